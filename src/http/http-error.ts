/**
 * http-error: the errors the HTTP layer answers with. Each carries the HTTP status it maps to and an
 * `ASC_ERR_HTTP_*` code; the app's error handler turns it into `{error, code}` JSON.
 */
import { AutoscalerError } from '../errors.ts';

/** HttpErrorCode is the code of a client error answered by the HTTP API. */
export type HttpErrorCode = 'ASC_ERR_HTTP_AUTH' | 'ASC_ERR_HTTP_INVALID' | 'ASC_ERR_HTTP_NOT_FOUND';

/** HttpError is a 4xx answer: a status, a stable code and a message that says what was expected. */
export class HttpError extends AutoscalerError {
  readonly statusCode: number;
  /** headers are added to the answer (e.g. `www-authenticate` on a 401). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: HttpErrorCode, statusCode: number, message: string, options?: { cause?: unknown; headers?: Readonly<Record<string, string>> }) {
    super(code, message, options);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.headers = options?.headers ?? {};
  }
}
