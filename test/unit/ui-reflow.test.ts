import { describe, expect, it } from 'vitest';
import { reflow } from '../../src/ui/reflow.js';

describe('reflow', () => {
  it('joins the lines of a paragraph and wraps them at the width', () => {
    expect(reflow('aaa bbb\nccc ddd eee', 11)).toBe('aaa bbb ccc\nddd eee');
  });

  it('keeps blank lines, indented lines and list items on their own lines', () => {
    const text = 'one two\nthree:\n  GET /x?y=z\nfour\n\n- item a\n- item b\nfive';
    expect(reflow(text, 80)).toBe('one two three:\n  GET /x?y=z\nfour\n\n- item a\n- item b five');
  });

  it('a colon at the end of a source line does not break the sentence', () => {
    expect(reflow('its metrics are judged:\nan error rate above the limit rolls back', 80)).toBe('its metrics are judged: an error rate above the limit rolls back');
  });

  it('a word longer than the width gets its own line, never split', () => {
    expect(reflow('see https://example.com/a/very/long/path for more', 20)).toBe('see\nhttps://example.com/a/very/long/path\nfor more');
  });
});
