/**
 * An unbounded-until-limit async queue: producers push synchronously,
 * one consumer iterates. Used to hand watch events to a watcher.
 *
 * @module
 */

/** A queue one consumer reads with `for await`. */
export class AsyncQueue<T> {
  #items: T[] = [];
  #head = 0;
  #waiting: ((r: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((e: unknown) => void) | undefined;
  #done = false;
  #error: unknown = undefined;
  #onClose: (() => void) | undefined;

  /** @param onClose Called once when the consumer stops or the queue ends. */
  constructor(onClose?: () => void) {
    this.#onClose = onClose;
  }

  /** Items waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Adds an item; ignored after the end. */
  push(item: T): void {
    if (this.#done) return;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      w({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends the queue after the items already pushed. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#waiting && this.size === 0) {
      const w = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      w({ value: undefined, done: true });
    }
    this.#finish();
  }

  /** Ends the queue with an error, raised after the items already pushed. */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#error = error;
    this.#done = true;
    if (this.#failWaiting && this.size === 0) {
      const f = this.#failWaiting;
      this.#waiting = this.#failWaiting = undefined;
      f(error);
    }
    this.#finish();
  }

  #finish(): void {
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.();
  }

  /** Iterates until the end; breaking out closes the queue. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      while (true) {
        if (this.size > 0) {
          const item = this.#items[this.#head];
          this.#items[this.#head++] = undefined as T;
          if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
            this.#items = this.#items.slice(this.#head);
            this.#head = 0;
          }
          yield item;
          continue;
        }
        if (this.#done) {
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        const r = await new Promise<IteratorResult<T>>((resolve, reject) => {
          this.#waiting = resolve;
          this.#failWaiting = reject;
        });
        if (r.done) return;
        yield r.value;
      }
    } finally {
      this.close();
    }
  }
}
