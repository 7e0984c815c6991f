/**
 * wire: the shapes of etcd v3's JSON gateway (grpc-gateway over the v3 gRPC API, etcd 3.4 `/v3/...`).
 *
 * The gateway speaks protobuf JSON: int64 fields come as decimal strings, keys and values as base64, and fields at
 * their zero value are left out (`succeeded: false`, `TTL: 0`, an empty `kvs`, a PUT event's `type`). The schemas
 * below give those back: revisions as numbers (etcd revisions stay far below 2^53), lease IDs as strings (they use
 * all 64 bits), bytes decoded to UTF-8.
 */
import { z } from 'zod';

const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]);
/** revision is an int64 field read as a number (0 when the gateway left it out). */
const revision = int64.optional().transform((v) => (v === undefined ? 0 : Number(v)));
/** leaseId is an int64 field kept as its decimal string ('0' when left out). */
const leaseId = int64.optional().transform((v) => (v === undefined ? '0' : String(v)));
const bytes = z.string().optional().transform((v) => (v === undefined ? '' : Buffer.from(v, 'base64').toString('utf8')));

/** Header is the response header every answer carries. */
export const Header = z.object({
  revision,
  raft_term: revision,
  member_id: leaseId,
}).prefault({});

/** KeyValue is one key as etcd stores it. */
export const KeyValue = z.object({
  key: bytes,
  value: bytes,
  create_revision: revision,
  mod_revision: revision,
  version: revision,
  lease: leaseId,
});

/** KeyValueOut is a decoded KeyValue. */
export type KeyValueOut = z.output<typeof KeyValue>;

/** RangeAnswer is `/v3/kv/range`. */
export const RangeAnswer = z.object({
  header: Header,
  kvs: z.array(KeyValue).optional().transform((v) => v ?? []),
  count: revision,
  more: z.boolean().optional(),
});

const PutAnswer = z.object({ header: Header });
const DeleteAnswer = z.object({ header: Header, deleted: revision });

/** TxnAnswer is `/v3/kv/txn`: `succeeded` false is left out by the gateway. */
export const TxnAnswer = z.object({
  header: Header,
  succeeded: z.boolean().optional().transform((v) => v ?? false),
  responses: z
    .array(z.object({
      response_range: RangeAnswer.optional(),
      response_put: PutAnswer.optional(),
      response_delete_range: DeleteAnswer.optional(),
    }))
    .optional()
    .transform((v) => v ?? []),
});

/** LeaseGrantAnswer is `/v3/lease/grant`. */
export const LeaseGrantAnswer = z.object({
  header: Header,
  ID: leaseId,
  TTL: revision,
  error: z.string().optional(),
});

/** LeaseKeepAliveAnswer is one message of `/v3/lease/keepalive` (a stream: wrapped in `result`); TTL 0 = the lease is gone. */
export const LeaseKeepAliveAnswer = z.object({
  result: z.object({ header: Header, ID: leaseId, TTL: revision }),
});

/** LeaseRevokeAnswer is `/v3/lease/revoke`. */
export const LeaseRevokeAnswer = z.object({ header: Header });

/** AuthenticateAnswer is `/v3/auth/authenticate`. */
export const AuthenticateAnswer = z.object({ header: Header, token: z.string().min(1) });

/** WatchEvent is one event of a watch answer; PUT (0) is left out by the gateway. */
export const WatchEvent = z.object({
  type: z.enum(['PUT', 'DELETE']).optional().transform((v) => v ?? 'PUT'),
  kv: KeyValue.optional(),
});

/** WatchAnswer is one message of the `/v3/watch` stream (wrapped in `result`). */
export const WatchAnswer = z.object({
  result: z.object({
    header: Header,
    watch_id: leaseId,
    created: z.boolean().optional(),
    canceled: z.boolean().optional(),
    compact_revision: revision,
    events: z.array(WatchEvent).optional().transform((v) => v ?? []),
  }).optional(),
  error: z.object({ message: z.string().optional(), http_code: z.number().optional() }).optional(),
});

/** GatewayError is the body of a gateway error (gRPC status as JSON). */
export const GatewayError = z.object({
  error: z.string().optional(),
  message: z.string().optional(),
  code: z.number().optional(),
});

/** b64 encodes a key or value for the gateway. */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * prefixEnd is the range_end that selects every key starting with `prefix` (etcd's `GetPrefixRangeEnd`: the prefix
 * with its last byte below 0xff incremented, trailing 0xff bytes dropped), base64-encoded.
 */
export function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    const byte = buf[i] ?? 0xff;
    if (byte < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}
