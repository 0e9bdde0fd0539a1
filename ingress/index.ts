/** The ingress: the seeds' HTTP APIs onto one ingest core writing to the landing topic. */
export { buildIngress, registerIngress, type IngressOptions } from './BuildIngress.js';
export { readIngressConfig, ingressConfig, type IngressConfig } from './IngressConfig.js';
export type { IngressRuntime } from './IngressRuntime.js';
export type { ReadinessCheck } from './routes/health-routes.js';
export type { AnalyticsQuery } from './routes/metrics-routes.js';
export { parseLandingEnvelope, type LandingEnvelope, EnvelopeError } from './LandingEnvelope.js';
export { SchemaCatalog, defaultSchemaDir, listJsonFiles, type EventKind, type EventSource } from './SchemaCatalog.js';
