import { Box, Text } from 'ink';
import type { RolloutProgress } from './progress.js';

/** One row per step: done, current (with what is happening) or still to come; then the log. */
export function RolloutView({ progress: p }: { progress: RolloutProgress }) {
  const failed = p.phase === 'failed' || p.phase === 'aborted';
  return (
    <Box flexDirection="column">
      <Text bold>
        canary rollout {p.service}: {p.stable} → {p.canary} ({p.phase})
      </Text>
      {p.steps.map((w, i) => {
        const done = i < p.step || p.phase === 'succeeded';
        const current = i === p.step && p.phase === 'progressing';
        const mark = done ? '✔' : current ? '▶' : failed && i === p.step ? '✘' : '·';
        const color = done ? 'green' : current ? 'cyan' : failed && i === p.step ? 'red' : 'gray';
        return (
          <Text key={i} color={color}>
            {mark} step {i + 1}/{p.steps.length}: {p.canary} {w}%{current ? ` — ${p.activity}` : ''}
          </Text>
        );
      })}
      {p.log.slice(-5).map((line, i) => (
        <Text key={`log-${i}`} dimColor>
          {line}
        </Text>
      ))}
    </Box>
  );
}
