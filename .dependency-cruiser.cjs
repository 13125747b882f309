// The layers, checked by tests/unit/layers.test.ts with dependency-cruiser:
//
//   src/native     libc through koffi: imports nothing of ours
//   src/core       the runtime: native only
//   src/workshop   lessons' loader, checks, grade, cleanup, doctor: core and native
//   src/cli        the command: everything below it
//   lessons/, solutions/   use core and native only — never the workshop (its
//                  checks and grader judge them) and never each other
//
// and no import cycle anywhere, type-only imports included: a cycle of types
// is how a cycle of code starts (validate.ts ↔ host/run.ts once did).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'modules import in one direction: move the shared piece down a layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'native-imports-nothing-above',
      comment: 'src/native is the bottom layer: it knows libc, not the runtime',
      severity: 'error',
      from: { path: '^src/native/' },
      to: { path: '^(src/(core|workshop|cli|bin)|lessons|solutions|tests|scripts)/' },
    },
    {
      name: 'core-imports-no-workshop-or-cli',
      comment: 'the runtime core is used by the workshop and the CLI, never the other way',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src/(workshop|cli|bin)|lessons|solutions|tests|scripts)/' },
    },
    {
      name: 'workshop-imports-no-cli',
      comment: 'the workshop (loader, checks, grade, cleanup) is used by the CLI, never the other way',
      severity: 'error',
      from: { path: '^src/workshop/' },
      to: { path: '^(src/(cli|bin)|lessons|solutions|scripts)/' },
    },
    {
      name: 'lessons-use-core-and-native-only',
      comment: 'a lesson builds on the runtime core and the native layer, never on what grades it',
      severity: 'error',
      from: { path: '^(lessons|solutions)/' },
      to: { path: '^(src/(workshop|cli|bin)|tests|scripts)/' },
    },
    {
      name: 'lessons-and-solutions-apart',
      comment: 'the two trees mirror each other; neither imports the other',
      severity: 'error',
      from: { path: '^lessons/' },
      to: { path: '^solutions/' },
    },
    {
      name: 'solutions-and-lessons-apart',
      severity: 'error',
      from: { path: '^solutions/' },
      to: { path: '^lessons/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
  },
};
