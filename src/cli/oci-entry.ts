/**
 * The compiled entry of `cellblock-oci` (src/bin/cellblock-oci.mjs rebuilds,
 * then loads this; lesson 11's checks spawn it directly). It exits explicitly:
 * the container it created is still its child, and must not keep it.
 */
import { main } from './oci.js';

process.exit(await main(process.argv.slice(2)));
