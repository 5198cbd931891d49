/**
 * A hosted tenant's API rate (`max_api_requests_per_minute`), the default when its record sets
 * none. Apart from api-rate.ts so the tenant record's parser can show it without importing the
 * limiter (which reads the tenant registry's cache: an import cycle).
 */
export const DEFAULT_API_REQUESTS_PER_MINUTE = 1200;

/** The tenant's calls a minute: its own limit, or the default. */
export function apiRequestsPerMinute(limits: { maxApiRequestsPerMinute?: number | null } | undefined): number {
  const n = limits?.maxApiRequestsPerMinute;
  return n != null && n >= 1 ? n : DEFAULT_API_REQUESTS_PER_MINUTE;
}
