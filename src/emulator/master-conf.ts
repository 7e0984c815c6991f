/**
 * master-conf: the parts of a Salt master.d snippet the emulator follows: `external_auth` (each user's ACL,
 * answered as /login's perms and enforced on every call) and `netapi_enable_clients`. By default it is the
 * product's own snippet, salt/master.d/salt-autoscaler.conf, so the emulator grants what the shipped file grants.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { AutoscalerError } from '../errors.ts';
import type { Acl } from './acl.ts';

/** SHIPPED_MASTER_CONF is the path of the product's master.d snippet. */
export const SHIPPED_MASTER_CONF = fileURLToPath(new URL('../../salt/master.d/salt-autoscaler.conf', import.meta.url));

/** MasterConf is what the emulator reads from a master.d snippet. */
export interface MasterConf {
  /** externalAuth: per eauth backend, per user name, the ACL list. */
  readonly externalAuth: Readonly<Record<string, Readonly<Record<string, Acl>>>>;
  /** enabledClients: `netapi_enable_clients`, undefined when the snippet does not set it. */
  readonly enabledClients: readonly string[] | undefined;
}

const AclSchema = z.array(z.union([z.string(), z.record(z.string(), z.unknown())]));
const SnippetSchema = z.looseObject({
  external_auth: z.record(z.string(), z.record(z.string(), AclSchema)).optional(),
  netapi_enable_clients: z.array(z.string()).optional(),
});

/** readMasterConf reads and validates the snippet at `path`; it throws ASC_ERR_EMULATOR_OPTIONS when it cannot. */
export function readMasterConf(path: string = SHIPPED_MASTER_CONF): MasterConf {
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AutoscalerError('ASC_ERR_EMULATOR_OPTIONS', `emulator could not read the master config ${path}`, { cause: err });
  }
  const out = SnippetSchema.safeParse(value ?? {});
  if (!out.success) {
    const problems = out.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new AutoscalerError('ASC_ERR_EMULATOR_OPTIONS', `emulator master config ${path} is invalid: ${problems}`, { cause: out.error });
  }
  return { externalAuth: out.data.external_auth ?? {}, enabledClients: out.data.netapi_enable_clients };
}
