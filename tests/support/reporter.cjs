// mocha's spec reporter, plus the plain closing line CI reads:
//   N passed, N failed, N skipped
// Skipped tests print why (the reason the test gave to this.skip()).
'use strict';
const Mocha = require('mocha');
const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class CellblockReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.on(EVENT_TEST_PENDING, (test) => {
      if (test.skipReason) process.stdout.write(`      skipped: ${test.skipReason}\n`);
    });
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      // After mocha's own epilogue, as the very last line.
      process.on('exit', () => {
        process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
      });
    });
  }
}
module.exports = CellblockReporter;
