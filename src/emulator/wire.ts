/**
 * wire: the byte-level habits of salt-api (rest_cherrypy, CherryPy 18.8.0 on Python 3) that the emulator
 * reproduces: Python `json.dumps` output, CherryPy's HTML error page, Salt's jid and `_stamp` formats.
 * See test/fixtures/salt-api/README.md for the recordings these come from.
 */

/** pyJson serialises like Python's `json.dumps(obj)`: `", "` and `": "` separators, non-ASCII escaped. */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => pyJson(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${pyString(k)}: ${pyJson(v)}`);
    return `{${parts.join(', ')}}`;
  }
  return 'null';
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** STATUS_TEXT maps the HTTP statuses the emulator answers with to their reason phrases. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found',
  405: 'Method Not Allowed', 500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** cherrypyErrorPage renders CherryPy 18.8.0's default HTML error page, as salt-api sends it for 400/401/404. */
export function cherrypyErrorPage(status: number, message: string): string {
  const title = `${status} ${STATUS_TEXT[status] ?? 'Error'}`;
  return `<!DOCTYPE html PUBLIC
"-//W3C//DTD XHTML 1.0 Transitional//EN"
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>${title}</title>
    <style type="text/css">
    #powered_by {
        margin-top: 20px;
        border-top: 2px solid black;
        font-style: italic;
    }

    #traceback {
        color: red;
    }
    </style>
</head>
    <body>
        <h2>${title}</h2>
        <p>${message}</p>
        <pre id="traceback"></pre>
    <div id="powered_by">
      <span>
        Powered by <a href="http://www.cherrypy.dev">CherryPy 18.8.0</a>
      </span>
    </div>
    </body>
</html>
`;
}

/** MSG_NO_PERMISSION is CherryPy's 401 text for a missing or unknown session token. */
export const MSG_NO_PERMISSION = 'No permission -- see authorization schemes';
/** MSG_AUTH_ERROR is salt-api's 401 text for an expired token on `POST /` and for bad tokens on `/run`. */
export const MSG_AUTH_ERROR = 'Authentication error occurred.';
/** MSG_GATEWAY_TIMEOUT is CherryPy's 504 text: salt-api's wait for a runner's return ran out (real_15). */
export const MSG_GATEWAY_TIMEOUT = 'The gateway server did not receive a timely response';
/** MSG_BAD_CREDENTIALS is the 401 text of `/login` with wrong credentials. */
export const MSG_BAD_CREDENTIALS = 'Could not authenticate using provided credentials';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** saltStamp formats epoch ms as Salt's `_stamp` (`YYYY-MM-DDTHH:MM:SS.ffffff`, UTC, microseconds). */
export function saltStamp(epochMs: number, micros = 0): string {
  const d = new Date(epochMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds() * 1000 + micros, 6)}`;
}

/** httpDate formats epoch ms as an RFC 7231 date (`Sat, 28 Nov 2026 06:59:48 GMT`), as in `Set-Cookie`. */
export function httpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** jobStartTime formats a jid as the `StartTime` of `/jobs` (`2026, Nov 28 07:01:31.626923`). */
export function jobStartTime(jid: string): string {
  const month = MONTHS[Number(jid.slice(4, 6)) - 1] ?? 'Jan';
  return `${jid.slice(0, 4)}, ${month} ${jid.slice(6, 8)} ${jid.slice(8, 10)}:${jid.slice(10, 12)}:${jid.slice(12, 14)}.${jid.slice(14, 20)}`;
}

/** JidGenerator hands out unique Salt jids (`YYYYMMDDhhmmssffffff`, UTC), strictly increasing. */
export class JidGenerator {
  #last = 0n;
  /** next returns a jid for `epochMs`, bumped by one microsecond when it would not be greater than the last. */
  next(epochMs: number): string {
    const d = new Date(epochMs);
    const base = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${pad(d.getUTCMilliseconds() * 1000, 6)}`;
    let value = BigInt(base);
    if (value <= this.#last) value = this.#last + 1n;
    this.#last = value;
    return value.toString();
  }
}

/** globMatch matches a minion id against a Salt glob target (`*`, `?`, `[...]`), like fnmatch. */
export function globMatch(pattern: string, id: string): boolean {
  let re = '^';
  for (const c of pattern) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[' || c === ']') re += c;
    else re += c.replace(/[.+^${}()|\\/-]/g, '\\$&');
  }
  try {
    return new RegExp(`${re}$`).test(id);
  } catch {
    return pattern === id;
  }
}
