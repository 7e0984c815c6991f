/**
 * emulator: a salt-api (rest_cherrypy) emulator for tests, the fault suite and the demo. A real HTTP server
 * that speaks the framing of test/fixtures/salt-api/ over a simulated Salt world, with fault injection.
 */
export { startEmulator } from './server.ts';
export type { Emulator, CallRecord, CallMatch, FaultControls, WorldControls, ControlFault } from './server.ts';
export type { EmulatorOptions, InstanceOption, Delays } from './options.ts';
export { EmulatorOptionsSchema, DEFAULT_DELAYS, DEFAULT_USER, PERMISSIVE_USER, REAL_MASTER_CALL_DELAYS, type CallDelays } from './options.ts';
export { PERMISSIVE_ACL, type Acl, type AclEntry } from './acl.ts';
export { readMasterConf, SHIPPED_MASTER_CONF, type MasterConf } from './master-conf.ts';
export type { BusEvent } from './bus.ts';
export type { InstanceView, Phase } from './world.ts';
export { ORCH_MODS, READY_GRAIN } from './world.ts';
