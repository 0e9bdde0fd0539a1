import { deriveEnrichment } from '../../processors/Enrichment.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';

const DAY = 86_400_000;
const CREATED = Date.UTC(2025, 5, 1);

function session(eventTime: number): LearningEvent {
  return { kind: 'session', event_time: eventTime, payload: {} } as unknown as LearningEvent;
}

// Parsed created_at texts are remembered (Enrichment.ts): a text read again, or read by another
// profile, must give the same answer as the first parse, and an unparseable one none.
describe('is_new_user from created_at', () => {
  test('the same text decides by each event time, again and again', () => {
    const user = { user_id: 'u', created_at: '2025-06-01T00:00:00Z', total_sessions: 3 };
    const other = { user_id: 'v', created_at: '2025-06-01T00:00:00Z', total_sessions: 3 };
    for (let round = 0; round < 3; round++) {
      expect(deriveEnrichment(session(CREATED + DAY), user, null).is_new_user).toBe(true);
      expect(deriveEnrichment(session(CREATED + 8 * DAY), user, null).is_new_user).toBe(false);
      expect(deriveEnrichment(session(CREATED + 6 * DAY), other, null).is_new_user).toBe(true);
    }
  });

  test('an unparseable text never counts as new, unless the user has no sessions', () => {
    for (let round = 0; round < 2; round++) {
      expect(deriveEnrichment(session(CREATED), { user_id: 'u', created_at: 'not a date', total_sessions: 3 }, null).is_new_user).toBe(false);
      expect(deriveEnrichment(session(CREATED), { user_id: 'u', created_at: 'not a date', total_sessions: 0 }, null).is_new_user).toBe(true);
    }
  });

  test('numeric created_at (seconds or ms) is read as before', () => {
    expect(deriveEnrichment(session(CREATED + DAY), { user_id: 'u', created_at: CREATED / 1000 }, null).is_new_user).toBe(true);
    expect(deriveEnrichment(session(CREATED + 30 * DAY), { user_id: 'u', created_at: CREATED }, null).is_new_user).toBe(false);
  });
});
