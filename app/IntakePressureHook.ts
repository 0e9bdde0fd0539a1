import type { onRequestHookHandler } from 'fastify';
import { HttpError } from '../ingress/HttpError.js';
import type { IntakePressure } from '../ingress/IntakeAdmission.js';
import type { IngressRuntime } from '../ingress/IngressRuntime.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A Fastify onRequest hook for the public listener that refuses requests bringing data (POST, PUT,
 * PATCH) with 503 + Retry-After while `pressure` refuses (the topology's backlog, the memory
 * budget); reads keep answering, and so do the URLs `exempt` names. The HttpError renders in the
 * ingest scope's own shape; `headers` carries Retry-After for Fastify's default handler too.
 * On the ingress's listener the hook also hands the pressure to the ingress's admission (once, at
 * its first request), which then refuses the ingest routes before fastify reads them: a third of
 * this error path's CPU (ingress/IntakeAdmission.ts).
 */
export function intakePressureHook(pressure: IntakePressure & { readonly retryAfterSeconds: number }, exempt: (url: string) => boolean = () => false): onRequestHookHandler {
  let joined = false;
  return function (this: { ingress?: IngressRuntime }, request, _reply, done) {
    if (!joined) {
      joined = true;
      this.ingress?.admission.addPressure(pressure);
    }
    if (!BODY_METHODS.has(request.method) || exempt(request.url)) return done();
    const message = pressure.refusal();
    if (message === undefined) return done();
    const error = new HttpError(503, message, 'overloaded', [], pressure.retryAfterSeconds);
    Object.assign(error, { headers: { 'retry-after': String(pressure.retryAfterSeconds) } });
    done(error);
  };
}
