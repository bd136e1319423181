import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * README.md is the page a newcomer reads whole; docs/ holds the rest. These tests keep the two
 * joined: every relative link resolves to a file and, with an #anchor, to a heading of it, and
 * README stays short and links every page of docs/.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const MAX_README_LINES = 300;

const docsPages = readdirSync(DOCS)
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => join(DOCS, name));
const pages = [README, ...docsPages];

/** The page's text outside fenced code blocks; fenced lines become empty, so line numbers hold. */
function prose(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return '';
    }
    return fence === undefined ? line : '';
  });
}

/** GitHub's heading anchor: lowercase, punctuation dropped except hyphens, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor the page's headings produce, numbered as GitHub numbers repeats (`x`, `x-1`). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Relative link targets, `[x](path)` and `[x](path#anchor)`, outside code; images included. */
function relativeLinks(markdown: string): Link[] {
  const text = prose(markdown)
    .map((line) => line.replace(/`[^`]*`/g, 'code'))
    .join('\n');
  const links: Link[] = [];
  for (const match of text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = match[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
    links.push({ line: text.slice(0, match.index ?? 0).split('\n').length, target });
  }
  return links;
}

/** What is wrong with each relative link of a page, as `file:line target: reason`. */
function brokenLinks(page: string): string[] {
  const problems: string[] = [];
  for (const { line, target } of relativeLinks(readFileSync(page, 'utf8'))) {
    const [path = '', anchor] = target.split('#', 2);
    const file = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
    const where = `${relative(ROOT, page)}:${line} ${target}`;
    if (!existsSync(file)) {
      problems.push(`${where}: no such file`);
    } else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) {
      problems.push(`${where}: no heading in ${relative(ROOT, file)} makes #${anchor}`);
    }
  }
  return problems;
}

describe('the link checker itself', () => {
  it('makes GitHub anchors of the headings the docs use', () => {
    expect(slug('`POST /auth/token`: log in')).toBe('post-authtoken-log-in');
    expect(slug("API Gateway's CloudWatch Logs role (account setting)")).toBe('api-gateways-cloudwatch-logs-role-account-setting');
    expect(slug('Settings (CDK context: `-c key=value` or `cdk.json`)')).toBe('settings-cdk-context--c-keyvalue-or-cdkjson');
    expect(slug('No ROLLBACK_FAILED')).toBe('no-rollback_failed');
  });

  it('numbers repeated headings and ignores headings inside code blocks', () => {
    const page = '# Users\n\n## Users\n\n```sh\n# not a heading\n```\n';
    expect([...anchors(page)]).toEqual(['users', 'users-1']);
  });

  it('finds relative links and anchors, skips external links and links inside code', () => {
    const page = [
      'See [a](docs/a.md), [b](b.md#part) and [`c`](#here), not [web](https://example.org).',
      'Not `[code](x.md)` either.',
      '```',
      '[fenced](y.md)',
      '```',
    ].join('\n');
    expect(relativeLinks(page)).toEqual([
      { line: 1, target: 'docs/a.md' },
      { line: 1, target: 'b.md#part' },
      { line: 1, target: '#here' },
    ]);
  });
});

describe('README and docs/', () => {
  it.each(pages.map((page) => [relative(ROOT, page), page]))('every relative link in %s resolves to a file and heading', (_name, page) => {
    // Arrange, Act
    const problems = brokenLinks(page);

    // Assert
    expect(problems).toEqual([]);
  });

  it(`README.md has at most ${MAX_README_LINES} lines`, () => {
    const text = readFileSync(README, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    expect(lines).toBeLessThanOrEqual(MAX_README_LINES);
  });

  it('README.md links every page of docs/', () => {
    const linked = new Set(relativeLinks(readFileSync(README, 'utf8')).map(({ target }) => resolve(ROOT, target.split('#')[0] ?? '')));
    expect(docsPages.filter((page) => !linked.has(page)).map((page) => relative(ROOT, page))).toEqual([]);
  });
});
