/**
 * A byte budget shared by every request in flight: the HTTP layer counts request bodies into it
 * as they arrive, the shadow sender the copies it holds. Neither layer owns it.
 */

/**
 * Body bytes held by all requests together (uploads arriving, bodies waiting for their turn).
 * Counted as they arrive, not as declared: a slow client that announces a large
 * Content-Length holds only what it has sent.
 */
export class InflightBytes {
  private used = 0;
  constructor(readonly limit: number) {}

  get held(): number {
    return this.used;
  }

  /** One request's share; `release` it when the request ends (in a finally). */
  hold(): BytesHold {
    let mine = 0;
    return {
      add: (n) => {
        if (this.used + n > this.limit) return false;
        this.used += n;
        mine += n;
        return true;
      },
      release: () => {
        this.used -= mine;
        mine = 0;
      },
    };
  }
}

export interface BytesHold {
  /** false (and nothing taken) when the budget would be exceeded */
  add(n: number): boolean;
  release(): void;
}
