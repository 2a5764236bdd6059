/**
 * The error classes of `@tsk/api`. Each maps to one Kubernetes-shaped
 * `Status` reason and HTTP code, so a store error reaches the client
 * unchanged through the API server.
 *
 * @module
 */
import type { Status } from "./meta.ts";

/** One invalid field: its path (`spec.containers[0].image`) and what is wrong. */
export interface FieldError {
  /** The field path, e.g. `spec.containers[0].resources.limits.memory`. */
  field: string;
  /** What is wrong and the fix, e.g. `expected a quantity like 512Mi`. */
  message: string;
}

/** Options of {@linkcode ApiError}. */
export interface ApiErrorOptions extends ErrorOptions {
  /** Field errors, for `Invalid`. */
  causes?: FieldError[];
  /** Seconds to wait before retrying, for `TooManyRequests`. */
  retryAfterSeconds?: number;
}

/**
 * Base class of every API error: a reason, an HTTP code and an optional
 * list of field errors.
 *
 * @example Raise and convert to a Status
 * ```ts
 * import { ApiError } from "@tsk/api";
 * const err = new ApiError("pods \"web\" not found", "NotFound", 404);
 * console.log(err.toStatus().code); // 404
 * ```
 */
export class ApiError extends Error {
  /** One CamelCase word, as in a Status. */
  readonly reason: string;
  /** The HTTP status code. */
  readonly code: number;
  /** Field errors, for `Invalid`. */
  readonly causes: FieldError[];
  /** Seconds to wait before retrying. */
  readonly retryAfterSeconds?: number;

  /**
   * Creates an API error.
   * @param message Sentence case, no trailing period.
   * @param reason The Status reason.
   * @param code The HTTP code.
   * @param options A cause, field errors, retry hint.
   */
  constructor(
    message: string,
    reason = "InternalError",
    code = 500,
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
    this.name = "ApiError";
    this.reason = reason;
    this.code = code;
    this.causes = options.causes ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /**
   * Converts the error to the Status body the API server sends.
   * @returns A `Status` with `status: "Failure"`.
   */
  toStatus(): Status {
    const status: Status = {
      apiVersion: "v1",
      kind: "Status",
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.causes.length > 0 || this.retryAfterSeconds !== undefined) {
      status.details = {};
      if (this.causes.length > 0) status.details.causes = this.causes;
      if (this.retryAfterSeconds !== undefined) {
        status.details.retryAfterSeconds = this.retryAfterSeconds;
      }
    }
    return status;
  }
}

/** The object does not exist (404). */
export class NotFoundError extends ApiError {
  /** Creates the error. @param message Names the object. @param options A cause. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(message, "NotFound", 404, options);
    this.name = "NotFoundError";
  }
}

/** An object with that name already exists (409). */
export class AlreadyExistsError extends ApiError {
  /** Creates the error. @param message Names the object. @param options A cause. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(message, "AlreadyExists", 409, options);
    this.name = "AlreadyExistsError";
  }
}

/** The object changed since the given resourceVersion was read (409): read it again and retry. */
export class ConflictError extends ApiError {
  /** Creates the error. @param message Names the object and versions. @param options A cause. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(message, "Conflict", 409, options);
    this.name = "ConflictError";
  }
}

/** The object is invalid (422); `causes` lists each bad field. */
export class ValidationError extends ApiError {
  /**
   * Creates the error from field errors; the message lists them all.
   * @param kind The object's kind and name, e.g. `Pod "web"`.
   * @param causes The field errors; at least one.
   */
  constructor(kind: string, causes: FieldError[]) {
    super(
      `${kind} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join("; ")}`,
      "Invalid",
      422,
      { causes },
    );
    this.name = "ValidationError";
  }
}

/**
 * The watch or continue token refers to a resourceVersion the store no
 * longer has (410): list again and watch from the list's resourceVersion.
 */
export class ExpiredError extends ApiError {
  /** Creates the error. @param message Names both versions and says to relist. @param options A cause. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(message, "Expired", 410, options);
    this.name = "ExpiredError";
  }
}

/** The request is malformed (400). */
export class BadRequestError extends ApiError {
  /** Creates the error. @param message Names the bad parameter. @param options A cause. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(message, "BadRequest", 400, options);
    this.name = "BadRequestError";
  }
}

/**
 * Converts a Status body received from a server back into the matching
 * error class.
 *
 * @param status The Status body.
 * @returns An instance of the subclass for its reason.
 *
 * @example Round-trip a not-found Status
 * ```ts
 * import { errorFromStatus, NotFoundError } from "@tsk/api";
 * const err = errorFromStatus({
 *   apiVersion: "v1", kind: "Status", status: "Failure",
 *   message: "pods \"a\" not found", reason: "NotFound", code: 404,
 * });
 * console.log(err instanceof NotFoundError); // true
 * ```
 */
export function errorFromStatus(status: Status): ApiError {
  const causes = status.details?.causes ?? [];
  switch (status.reason) {
    case "NotFound":
      return new NotFoundError(status.message);
    case "AlreadyExists":
      return new AlreadyExistsError(status.message);
    case "Conflict":
      return new ConflictError(status.message);
    case "Expired":
    case "Gone":
      return new ExpiredError(status.message);
    case "BadRequest":
      return new BadRequestError(status.message);
    case "Invalid": {
      const err = new ApiError(status.message, "Invalid", status.code, { causes });
      return err;
    }
    default:
      return new ApiError(status.message, status.reason || "Unknown", status.code, {
        causes,
        retryAfterSeconds: status.details?.retryAfterSeconds,
      });
  }
}
