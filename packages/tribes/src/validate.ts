/**
 * Named option validators shared by every nodecat package. Each package keeps one DEFAULTS table
 * and resolves its options once at start-up with these; a failure throws a coded error whose
 * message names the option ("membership.frequency must be an integer between 50 and 60000, got -1").
 */
export type OptionErrorFactory = (message: string) => Error

export interface Validators {
  integer (value: unknown, name: string, min?: number, max?: number): number
  number (value: unknown, name: string, min?: number, max?: number): number
  boolean (value: unknown, name: string): boolean
  string (value: unknown, name: string, pattern?: RegExp, hint?: string): string
  oneOf<T extends string> (value: unknown, name: string, choices: readonly T[]): T
  stringList (value: unknown, name: string): string[]
  /** fail with a message naming the option */
  fail (name: string, expected: string, value: unknown): never
}

function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  try { return JSON.stringify(value) ?? String(value) } catch { return String(value) }
}

/** Build the validator set for one package, throwing that package's coded option error. */
export function validators (makeError: OptionErrorFactory): Validators {
  const fail = (name: string, expected: string, value: unknown): never => {
    throw makeError(`${name} must be ${expected}, got ${show(value)}`)
  }
  const range = (min: number, max: number) =>
    min === -Infinity && max === Infinity ? '' : max === Infinity ? ` >= ${min}` : ` between ${min} and ${max}`
  return {
    fail,
    integer (value, name, min = -Infinity, max = Infinity) {
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) value = Number(value)
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) fail(name, `an integer${range(min, max)}`, value)
      return value as number
    },
    number (value, name, min = -Infinity, max = Infinity) {
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) value = Number(value)
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) fail(name, `a number${range(min, max)}`, value)
      return value as number
    },
    boolean (value, name) {
      if (value === 'true') return true
      if (value === 'false') return false
      if (typeof value !== 'boolean') fail(name, 'true or false', value)
      return value as boolean
    },
    string (value, name, pattern, hint) {
      if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) fail(name, hint ?? (pattern ? `a string matching ${pattern}` : 'a string'), value)
      return value as string
    },
    oneOf (value, name, choices) {
      if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) fail(name, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value)
      return value as (typeof choices)[number]
    },
    stringList (value, name) {
      if (typeof value === 'string') value = value.split(',').map((s) => s.trim()).filter(Boolean)
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(name, 'a list of strings (or a comma-separated string)', value)
      return value as string[]
    }
  }
}
