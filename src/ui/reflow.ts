/**
 * Help descriptions are written as prose with line breaks where the source file needed them, not
 * where the reader's terminal does. commander wraps each line on its own, so a 110-character source
 * line in a 100-column help came out as a long line and a two-word orphan. This joins the lines of
 * each paragraph and wraps them at `width`. Blank lines, indented lines (examples, endpoint lists)
 * and list items keep their own lines. A line ending in ':' does not end its paragraph by itself:
 * in our help texts such a colon falls mid-sentence ("...are judged:" + "an error rate above...");
 * what follows a heading-like colon is indented anyway.
 */
export function reflow(text: string, width: number): string {
  const out: string[] = [];
  let para: string[] = [];
  const flush = (): void => {
    if (para.length) out.push(...wrap(para.join(' '), width));
    para = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '' || /^\s/.test(line)) {
      flush();
      out.push(line);
      continue;
    }
    if (/^([-*•]|\d+\.)\s/.test(line)) flush();
    para.push(line.trim());
  }
  flush();
  return out.join('\n');
}

/** Greedy word wrap; a word longer than `width` gets a line of its own. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
