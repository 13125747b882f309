/** Images and layers (lesson 06's shared code): the store, build, import, diff. */
export * from './store.js';
export * from './overlay.js';
export { build, type BuildResult, type StepReport, type StepRunner } from './build.js';
export { BuildFileError, parseBuildFile } from './buildfile.js';
export { diffUpper, type Change } from './diff.js';
export { importTarball, extractTar, readTar } from './tar.js';
export { treeDigest, treeSize } from './tree.js';
