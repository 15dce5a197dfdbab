/** A clock tests move by hand, so expiry needs no real waiting. */
export class FakeClock {
  #now: number
  constructor (start = 1_700_000_000_000) { this.#now = start }
  now (): number { return this.#now }
  advance (ms: number): void { this.#now += ms }
}
