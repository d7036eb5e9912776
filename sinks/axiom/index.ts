// The Axiom destination: POST /v1/datasets/<dataset>/ingest, bearer token, gzip'd NDJSON of the
// entries as they are (Axiom reads `timestamp`); events Axiom reports as failed in its 200
// answer are counted as rejected. Start-up check: a connection to the host (an ingest token
// may not read anything).
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeAxiom, readAxiomConfig, type AxiomConfig } from './config.js';
import { axiomPartial } from './encode.js';

export function axiomSpec(config: AxiomConfig): VendorHttpSpec {
  return {
    kind: 'axiom',
    url: config.url,
    headers: { authorization: `Bearer ${config.token}` },
    format: 'ndjson',
    gzip: true,
    partialSuccess: axiomPartial,
  };
}

export const plugin = vendorPlugin<AxiomConfig>({
  kind: 'axiom',
  envPrefix: 'AXIOM',
  // Vector's realtime batches for Axiom: up to 10 MB raw per request.
  defaults: vendorDefaults({ maxLineBytes: 10_000_000 }),
  readConfig: readAxiomConfig,
  describe: describeAxiom,
  spec: axiomSpec,
});
