/**
 * Loading the user's app module and telling what it is: a fastify plugin
 * (`export default async function (fastify, opts)`) or an express app / connect handler
 * (`(req, res, next)`, or an object with handle() and use()).
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify'
import { serviceErrors } from './errors.js'

export type ConnectHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

export type LoadedApp =
  | { kind: 'fastify', plugin: FastifyPluginAsync | FastifyPluginCallback }
  | { kind: 'connect', handler: ConnectHandler }

/** Classify an exported value. */
export function classifyApp (value: unknown, file = 'app'): LoadedApp {
  const candidate = (typeof value === 'object' && value !== null && 'default' in value) ? (value as { default: unknown }).default : value
  if (typeof candidate !== 'function') throw serviceErrors.appShape(file)
  const fn = candidate as ((...args: unknown[]) => unknown) & { handle?: unknown, use?: unknown }
  // express and connect apps are functions carrying handle() and use()
  if (typeof fn.handle === 'function' && typeof fn.use === 'function') return { kind: 'connect', handler: fn as unknown as ConnectHandler }
  if (fn.length >= 3) return { kind: 'connect', handler: fn as unknown as ConnectHandler }
  return { kind: 'fastify', plugin: fn as unknown as FastifyPluginAsync }
}

/** Import the module (path relative to the working directory) and classify it. */
export async function loadApp (file: string, cwd = process.cwd()): Promise<LoadedApp> {
  const url = pathToFileURL(path.resolve(cwd, file)).href
  let mod: unknown
  try { mod = await import(url) } catch (err) { throw serviceErrors.appLoad(file, err) }
  return classifyApp(mod, file)
}
