/**
 * The error codes of the OCI distribution spec and the error type that
 * carries one to the HTTP boundary.
 *
 * @module
 */

/** The error codes defined by the OCI distribution spec, with their HTTP status. */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: {
    status: 404,
    message: "manifest references a manifest or blob unknown to registry",
  },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
} as const;

/** One of the spec's error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options for {@linkcode RegistryError}. */
export interface RegistryErrorOptions extends ErrorOptions {
  /**
   * The HTTP status to answer with.
   * @default the status the spec gives the code
   */
  status?: number;
  /**
   * Extra detail for the error body.
   * @default undefined
   */
  detail?: unknown;
  /**
   * Extra response headers (e.g. `WWW-Authenticate`, `Range`).
   * @default {}
   */
  headers?: Record<string, string>;
}

/**
 * An error that the registry answers with the spec's JSON error body.
 *
 * @example Refuse an unknown blob
 * ```ts
 * import { RegistryError } from "@tsk/registry";
 * const err = new RegistryError("BLOB_UNKNOWN", "digest: sha256:00 is not in repository a/b");
 * console.log(err.status); // 404
 * ```
 */
export class RegistryError extends Error {
  /** The spec's error code. */
  readonly code: ErrorCode;
  /** The HTTP status. */
  readonly status: number;
  /** Extra detail for the body. */
  readonly detail: unknown;
  /** Extra response headers. */
  readonly headers: Record<string, string>;

  /**
   * Makes an error.
   *
   * @param code The spec's error code.
   * @param message A sentence-case message naming the field.
   * @param options Status override, detail, headers and cause.
   */
  constructor(code: ErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(message, options);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }

  /**
   * The spec's error body: `{"errors":[{"code","message","detail"}]}`.
   *
   * @returns The JSON-serialisable body.
   */
  toBody(): { errors: { code: string; message: string; detail?: unknown }[] } {
    const e: { code: string; message: string; detail?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.detail !== undefined) e.detail = this.detail;
    return { errors: [e] };
  }
}

/**
 * An error in the registry's configuration (flags or YAML file).
 *
 * @example Report a bad port
 * ```ts
 * import { ConfigError } from "@tsk/registry";
 * throw new ConfigError("port: expected an integer from 0 to 65535, got -1");
 * ```
 */
export class ConfigError extends Error {
  /**
   * Makes an error.
   *
   * @param message A sentence-case message naming the field.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}
