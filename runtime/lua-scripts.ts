import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

/**
 * Lua scripts live in .lua files. `--- @include "name"` pulls in includes/<name>.lua (or, for
 * what every processor shares, runtime/lua/<name>.lua) once, so shared logic (BullMQ-style) is
 * written once. `--- @generated "name"` is replaced by Lua source
 * generated from a TypeScript table (`generated[name]`), so a rule both sides need has one
 * source. Each script is registered with ioredis' defineCommand: it is sent with EVALSHA and
 * loaded only when Redis answers NOSCRIPT (after a restart or failover), and it is called by
 * name with its keys passed explicitly.
 */
export function loadLuaSource(
  dir: string,
  name: string,
  generated: Readonly<Record<string, string>> = {},
  seen = new Set<string>(),
  options: LuaSourceOptions = {},
): string {
  const text = readFileSync(join(dir, `${name}.lua`), 'utf8');
  const source = text
    .replace(/^--- @include "([\w-]+)"\s*$/gm, (_line, include: string) => {
      if (seen.has(include)) return '';
      seen.add(include);
      // a processor's own includes first, then those every processor shares (runtime/lua)
      const own = join(dir, 'includes');
      const from = existsSync(join(own, `${include}.lua`)) ? own : sharedLuaDir;
      return loadLuaSource(from, include, generated, seen, { ...options, nested: true });
    })
    .replace(/^--- @generated "([\w-]+)"\s*$/gm, (_line, table: string) => {
      const source = generated[table];
      if (source === undefined) throw new Error(`script ${name} needs the generated table "${table}"`);
      return source;
    })
    .replace(/^--- @section "([\w-]+)"\s*$/gm, (_line, section: string) =>
      options.sectionProfile ? `__section(${JSON.stringify(section)})` : '',
    );
  return options.sectionProfile && !options.nested ? sectionProfilePrelude + source : source;
}

export interface LuaSourceOptions {
  /**
   * A profiling build (benchmarks only, on a standalone Redis of their own): each
   * `--- @section "name"` line adds the microseconds since the previous one (or since the
   * script started) to field `name` of the hash SECTION_PROFILE_KEY. The key is not declared,
   * so such a build is not Redis Cluster safe, and each marker costs a TIME call (about 1.5 µs).
   */
  sectionProfile?: boolean;
  /** an include being expanded: the prelude goes once, at the top of the script */
  nested?: boolean;
}

/** Where a profiling build adds up its sections' microseconds. */
export const SECTION_PROFILE_KEY = 'lua-section-profile';

const sectionProfilePrelude = `local __section_last
local function __section(name)
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if name ~= '' then redis.call('HINCRBY', '${SECTION_PROFILE_KEY}', name, us - __section_last) end
  __section_last = us
end
__section('')
`;

const sharedLuaDir = fileURLToPath(new URL('./lua/', import.meta.url));

export type RedisClient = Redis | Cluster;

/** Registers scripts under their file names; keys are passed per call (numberOfKeys first). */
export function defineScripts(
  client: RedisClient,
  dir: string,
  names: readonly string[],
  generated: Readonly<Record<string, string>> = {},
  options: LuaSourceOptions = {},
): void {
  for (const name of names) {
    client.defineCommand(name, { lua: loadLuaSource(dir, name, generated, new Set(), options) });
  }
}

/** Calls a defined script: ioredis adds the command as a method at runtime. */
export async function callScript(
  client: RedisClient,
  name: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name];
  if (typeof fn !== 'function') throw new Error(`script ${name} is not defined on this client`);
  return fn.call(client, keys.length, ...keys, ...args);
}

/**
 * The KEYS of one script call, each declared once: `ref` returns a key's 1-based index (Lua's),
 * which the call's JSON argument uses to name it.
 */
export class ScriptKeys {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();

  ref(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) {
      this.keys.push(key);
      i = this.keys.length;
      this.index.set(key, i);
    }
    return i;
  }
}
