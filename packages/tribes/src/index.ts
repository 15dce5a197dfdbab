export * from './types.js'
export { TribesError, TribesOptionError } from './errors.js'
export { validators, type Validators, type OptionErrorFactory } from './validate.js'
