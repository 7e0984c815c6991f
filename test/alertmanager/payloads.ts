/** payloads: Alertmanager webhook v4 bodies in the documented shape, and a small config, for the receiver tests. */
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';

/** testConfig builds a valid config with pools prod/type1 and dev/type2 and the given http section. */
export function testConfig(http: Record<string, unknown> = {}): Config {
  return parseConfig({
    salt: { url: 'http://127.0.0.1:8000', username: 'u', password: 'p' },
    http: { bodyLimit: '64KiB', ...http },
    pools: [
      { env: 'prod', instanceType: 'type1', max: 5, provider: 'c', reserved: ['gpu-prod-1'], interval: 270 },
      { env: 'dev', instanceType: 'type2', max: 2, provider: 'c', reserved: ['gpu-dev-1'] },
    ],
  }, {});
}

/** ZERO_TIME is Go's zero time: Alertmanager's endsAt of a firing alert. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** alert builds one alert of a notification. */
export function alert(opts: {
  name?: string; env?: string; type?: string; status?: 'firing' | 'resolved'; workload?: string;
  startsAt?: string; endsAt?: string; fingerprint?: string; labels?: Record<string, string>;
}): Record<string, unknown> {
  return {
    status: opts.status ?? 'firing',
    labels: { alertname: opts.name ?? 'SaltAutoscalerScaleUp', env: opts.env ?? 'prod', instance_type: opts.type ?? 'type1', ...opts.labels },
    annotations: opts.workload === undefined ? {} : { workload: opts.workload },
    startsAt: opts.startsAt ?? '2026-11-28T07:00:00Z',
    endsAt: opts.endsAt ?? ZERO_TIME,
    generatorURL: 'http://prometheus:9090/graph?g0.expr=sum%28queue_length%29',
    fingerprint: opts.fingerprint ?? 'a1b2c3d4e5f60708',
  };
}

/** notification wraps alerts into a version 4 webhook body. */
export function notification(alerts: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const firing = alerts.some((a) => a['status'] === 'firing');
  return {
    version: '4',
    groupKey: '{}/{alertname=~"^(?:SaltAutoscalerScale.*)$"}:{alertname="SaltAutoscalerScaleUp", env="prod", instance_type="type1"}',
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: 'salt-autoscaler',
    groupLabels: { alertname: 'SaltAutoscalerScaleUp', env: 'prod', instance_type: 'type1' },
    commonLabels: { alertname: 'SaltAutoscalerScaleUp', env: 'prod', instance_type: 'type1' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...extra,
  };
}
