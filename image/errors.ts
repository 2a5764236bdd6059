/**
 * The errors `@tsk/image` raises. Each carries `cause` when it wraps another
 * error, and validation errors name the bad field.
 *
 * @module
 */

/** Base class of every error `@tsk/image` raises. */
export class ImageError extends Error {
  /**
   * Creates an image error.
   *
   * @param message Sentence case, no trailing period, a colon before detail.
   * @param options The `cause`, when this wraps another error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ImageError";
  }
}

/** A document (manifest, index, config, reference, ...) failed validation. */
export class ValidationError extends ImageError {
  /** The path of the bad field, e.g. `manifests[2].digest`. */
  readonly field: string;

  /**
   * Creates a validation error whose message starts with the field.
   *
   * @param field The path of the bad field, e.g. `layers[0].size`.
   * @param detail What was expected and what was found.
   * @param options The `cause`, when this wraps another error.
   */
  constructor(field: string, detail: string, options?: ErrorOptions) {
    super(field ? `${field}: ${detail}` : detail, options);
    this.name = "ValidationError";
    this.field = field;
  }
}

/** Content did not hash to the digest it was stored or fetched under. */
export class DigestMismatchError extends ImageError {
  /** The digest the content should have had. */
  readonly expected: string;
  /** The digest the content had. */
  readonly actual: string;

  /**
   * Creates a digest mismatch error.
   *
   * @param expected The digest the content should have had.
   * @param actual The digest computed from the bytes.
   * @param options The `cause`, when this wraps another error.
   */
  constructor(expected: string, actual: string, options?: ErrorOptions) {
    super(`Digest mismatch: expected ${expected}, got ${actual}`, options);
    this.name = "DigestMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** A blob, image or tag does not exist. */
export class NotFoundError extends ImageError {
  /**
   * Creates a not-found error.
   *
   * @param message Names what was looked for.
   * @param options The `cause`, when this wraps another error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}
