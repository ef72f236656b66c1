import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { projectRoot } from '../helpers/stack-env.js';

// No container engine or cluster on the build machine: these check what can be checked here,
// that the manifests parse and point at entry points that exist, with probes and graceful stops.
interface Container {
  args: string[];
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
}
interface K8sDoc {
  kind: string;
  metadata: { name: string };
  spec: {
    replicas?: number;
    template: { spec: { containers: Container[]; terminationGracePeriodSeconds?: number } };
  };
}

describe('production manifests', () => {
  it('Kubernetes: every Deployment runs an existing entry point; processors have probes and a grace period', () => {
    const docs = parseAllDocuments(readFileSync(join(projectRoot, 'deploy/k8s/pipeline.yaml'), 'utf8')).map(
      (d) => d.toJS() as K8sDoc,
    );
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      'dashboard',
      'inventory',
      'lag-monitor',
      'logistics',
      'orders',
    ]);
    for (const d of deployments) {
      const container = d.spec.template.spec.containers[0] as Container;
      const entry = container.args[0] ?? 'missing';
      expect(existsSync(join(projectRoot, entry)), entry).toBe(true);
      if (['inventory', 'orders', 'logistics'].includes(d.metadata.name)) {
        expect(container.livenessProbe?.httpGet.path).toBe('/healthz');
        expect(container.readinessProbe?.httpGet.path).toBe('/readyz');
        expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
        expect(d.spec.replicas ?? 1).toBeGreaterThan(1);
      }
    }
  });

  it('compose: every service of ours runs an existing entry point', () => {
    const compose = parse(readFileSync(join(projectRoot, 'deploy/compose/compose.yaml'), 'utf8'), {
      merge: true,
    }) as {
      services: Record<string, { command?: string[]; image?: string }>;
    };
    const ours = Object.entries(compose.services).filter(([, s]) => s.image === 'ecom-pipeline:latest');
    expect(ours.map(([n]) => n).sort()).toEqual([
      'dashboard',
      'inventory',
      'lag-monitor',
      'logistics',
      'orders',
      'setup',
    ]);
    for (const [, s] of ours) expect(existsSync(join(projectRoot, s.command?.[0] ?? 'missing'))).toBe(true);
  });

  it("ClickHouse's writer and read-only users are provisioned by both, passwords from the environment", () => {
    const usersFile = 'deploy/clickhouse/users.d/pipeline-users.xml';
    const users = readFileSync(join(projectRoot, usersFile), 'utf8');
    expect(users).toMatch(/<pipeline_writer>[\s\S]*from_env="CLICKHOUSE_WRITER_PASSWORD"/);
    expect(users).toMatch(
      /<dashboard_reader>[\s\S]*from_env="CLICKHOUSE_READER_PASSWORD"[\s\S]*<profile>pipeline_readonly</,
    );
    expect(users).toMatch(/<pipeline_readonly>\s*<readonly>2</);
    expect(users).not.toMatch(/<password>[^<]/); // no password written in the file

    const compose = parse(readFileSync(join(projectRoot, 'deploy/compose/compose.yaml'), 'utf8'), {
      merge: true,
    }) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> };
    const ch = compose.services.clickhouse;
    expect(
      ch?.volumes?.some((v) =>
        v.startsWith('../clickhouse/users.d/pipeline-users.xml:/etc/clickhouse-server/users.d/'),
      ),
    ).toBe(true);
    expect(Object.keys(ch?.environment ?? {})).toEqual(
      expect.arrayContaining(['CLICKHOUSE_WRITER_PASSWORD', 'CLICKHOUSE_READER_PASSWORD']),
    );

    // the Kubernetes ConfigMap carries the same file, byte for byte
    const docs = parseAllDocuments(readFileSync(join(projectRoot, 'deploy/k8s/pipeline.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string> },
    );
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'clickhouse-pipeline-users');
    expect(cm?.data?.['pipeline-users.xml']).toBe(users);
  });
});
