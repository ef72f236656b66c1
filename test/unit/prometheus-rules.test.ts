import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import '../../observability/lag/prometheus.js';
import { metricsRegistry } from '../../runtime/prometheus.js';

const rulesFile = fileURLToPath(new URL('../../deploy/prometheus/alert-rules.yml', import.meta.url));

interface Rule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string };
}

describe('the example Prometheus alert rules', () => {
  const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
    (g) => g.rules,
  );
  const exported = new Set(metricsRegistry.getMetricsAsArray().map((m) => m.name));

  it('only use metrics the processes export (a renamed metric breaks this, not the pager)', () => {
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      for (const [name] of rule.expr.matchAll(/\bpipeline_[a-z_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        expect(exported.has(base), `${rule.alert}: ${name}`).toBe(true);
      }
    }
  });

  it('follow the naming conventions: counters end in _total, durations are in _seconds', () => {
    for (const m of metricsRegistry.getMetricsAsArray()) {
      if (!m.name.startsWith('pipeline_')) continue;
      const type = (m as unknown as { type: string }).type;
      if (type === 'counter') expect(m.name, m.name).toMatch(/_total$/);
      if (/duration|latency/.test(m.name)) expect(m.name, m.name).toMatch(/_seconds$/);
    }
  });

  it('each have a severity and a summary', () => {
    for (const rule of rules) {
      expect(['page', 'ticket']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
    }
  });
});
