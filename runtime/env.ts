/**
 * A small typed reader for environment variables. Every variable is declared once with its
 * kind, default and whether it is secret, so that start-up can report every problem in one
 * message and logs can show the effective configuration without leaking secrets.
 */

export type EnvSpec =
  | { kind: 'string'; default?: string; secret?: boolean; doc: string; pattern?: RegExp }
  | { kind: 'int'; default?: number; min?: number; max?: number; doc: string }
  | { kind: 'bool'; default?: boolean; doc: string }
  | { kind: 'url'; default?: string; protocols: string[]; secret?: boolean; doc: string }
  | { kind: 'list'; default?: string[]; doc: string }
  | { kind: 'enum'; values: readonly string[]; default?: string; doc: string };

type ValueOf<S extends EnvSpec> = S extends { kind: 'int' }
  ? number
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'list' }
      ? string[]
      : string;

type HasDefault<S> = S extends { default: unknown } ? true : false;

export type EnvValues<T extends Record<string, EnvSpec>> = {
  [K in keyof T]: HasDefault<T[K]> extends true ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function parseOne(name: string, spec: EnvSpec, raw: string): { value?: unknown; problem?: string } {
  switch (spec.kind) {
    case 'string':
      if (spec.pattern && !spec.pattern.test(raw)) {
        return { problem: `${name} must match ${spec.pattern} (${spec.doc})` };
      }
      return { value: raw };
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) return { problem: `${name} must be an integer, got "${raw}"` };
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min)
        return { problem: `${name} must be >= ${spec.min}, got ${n}` };
      if (spec.max !== undefined && n > spec.max)
        return { problem: `${name} must be <= ${spec.max}, got ${n}` };
      return { value: n };
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return { value: true };
      if (['0', 'false', 'no', 'off'].includes(v)) return { value: false };
      return { problem: `${name} must be true or false, got "${raw}"` };
    }
    case 'url': {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return { problem: `${name} must be a URL (${spec.doc})` };
      }
      if (!spec.protocols.includes(url.protocol.replace(/:$/, ''))) {
        return { problem: `${name} must use ${spec.protocols.join(' or ')}, got ${url.protocol}` };
      }
      return { value: raw };
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (items.length === 0) return { problem: `${name} must list at least one value` };
      return { value: items };
    }
    case 'enum':
      if (!spec.values.includes(raw)) {
        return { problem: `${name} must be one of ${spec.values.join(', ')}, got "${raw}"` };
      }
      return { value: raw };
  }
}

export function readEnv<T extends Record<string, EnvSpec>>(
  specs: T,
  env: NodeJS.ProcessEnv = process.env,
): EnvValues<T> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out[name] = spec.default;
      continue;
    }
    const { value, problem } = parseOne(name, spec, raw);
    if (problem) problems.push(problem);
    else out[name] = value;
  }
  if (problems.length) throw new ConfigError(problems);
  return out as EnvValues<T>;
}

/** Configuration as it may be logged: secrets and URL credentials replaced. */
export function redact<T extends Record<string, EnvSpec>>(
  specs: T,
  values: EnvValues<T>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = (values as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if ('secret' in spec && spec.secret) out[name] = '[redacted]';
    else if (spec.kind === 'url' && typeof v === 'string') out[name] = redactUrl(v);
    else out[name] = v;
  }
  return out;
}

export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = 'redacted';
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}
