import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { afterPhase } from './phase-batch.js';

const run = promisify(execFile);

test('every target registered in a phase is called once at its end, in order', async () => {
  const calls: string[] = [];
  const target = (name: string) => ({ endOfPhase: () => calls.push(name) });
  afterPhase(target('a'));
  afterPhase(target('b'));
  assert.deepEqual(calls, [], 'nothing runs before the phase ends');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['a', 'b']);
  afterPhase(target('c'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['a', 'b', 'c'], 'a later phase schedules its own end');
});

test('a target that throws neither strands the others nor stops later phases', async () => {
  // In a child process: the throw is an uncaught exception, which the test runner would count.
  const batch = new URL('./phase-batch.js', import.meta.url).href;
  const script = `
    import { afterPhase } from ${JSON.stringify(batch)};
    const calls = [];
    process.on('uncaughtException', (e) => calls.push('threw: ' + e.message));
    afterPhase({ endOfPhase: () => { throw new Error('boom'); } });
    afterPhase({ endOfPhase: () => calls.push('second') });
    setTimeout(() => {
      afterPhase({ endOfPhase: () => calls.push('next phase') });
      setTimeout(() => console.log(JSON.stringify(calls)), 20);
    }, 20);
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  assert.deepEqual(JSON.parse(stdout), ['threw: boom', 'second', 'next phase']);
});
