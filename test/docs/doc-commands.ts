/**
 * doc-commands: the shell commands a user would run against the product (`salt-autoscaler …`, `npx salt-autoscaler …`),
 * extracted from the fenced code blocks of the README and docs/*.md, for test/docs/commands.test.ts.
 * In `console` blocks only `$ ` lines are commands; in `sh` / `bash` / `shell` blocks every line that is not a comment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** DocCommand is one command line of the docs, where it is written, and the line without its trailing comment. */
export interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly command: string;
}

const PRODUCT = /^(?:[A-Z_]+=\S+\s+)*(?:npx\s+)?salt-autoscaler\s/;

/** docFiles lists README.md and docs/*.md relative to the repository root. */
export function docFiles(root: string): string[] {
  return ['README.md', 'salt/README.md', ...readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).sort().map((n) => `docs/${n}`)];
}

/** extractCommands returns every product command in the fenced blocks of one markdown text. */
export function extractCommands(file: string, markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const opening = /^\s*```(\w*)/.exec(raw);
    if (opening !== null) {
      fence = fence === undefined ? (opening[1] ?? '') : undefined;
      return;
    }
    if (fence === undefined || !['sh', 'bash', 'shell', 'console'].includes(fence)) return;
    let text = raw.trim();
    if (fence === 'console') {
      if (!text.startsWith('$ ')) return;
      text = text.slice(2);
    }
    // a trailing comment is the docs' explanation, not part of the command
    text = text.replace(/\s+#\s.*$/, '').trim();
    if (PRODUCT.test(text)) found.push({ file, line: index + 1, command: text });
  });
  return found;
}

/** allDocCommands reads every doc file under root and returns its product commands. */
export function allDocCommands(root: string): DocCommand[] {
  return docFiles(root).flatMap((file) => extractCommands(file, readFileSync(join(root, file), 'utf8')));
}
