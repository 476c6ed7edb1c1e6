/**
 * Migrations, applied in order; PRAGMA user_version is the number applied. Never edit a shipped migration:
 * append a new one.
 *
 * Ordinary fetches are counted, not stored: fetch_hourly has one row per host, hour and combination of the facts
 * the classifier groups by. Only 421s and retries keep per-fetch detail (fetch_detail). Nothing of a URL but its
 * scheme-less origin (host) is kept, and hosts, crawlers and addresses are dictionary-encoded to keep rows small.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
  CREATE TABLE crawlers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
  CREATE TABLE addresses (id INTEGER PRIMARY KEY, addr TEXT NOT NULL UNIQUE);
  INSERT INTO addresses (id, addr) VALUES (0, '');

  CREATE TABLE fetch_hourly (
    host_id INTEGER NOT NULL,
    hour INTEGER NOT NULL,          -- hours since the Unix epoch (UTC)
    status INTEGER NOT NULL,
    protocol INTEGER NOT NULL,      -- HttpProtocol number
    conn_kind INTEGER NOT NULL,     -- ConnKind number (domain/fetch-kind.ts)
    address_id INTEGER NOT NULL,    -- 0 = not reported
    count INTEGER NOT NULL,
    PRIMARY KEY (host_id, hour, status, protocol, conn_kind, address_id)
  ) WITHOUT ROWID;
  CREATE INDEX fetch_hourly_hour ON fetch_hourly (hour);

  CREATE TABLE fetch_detail (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL,
    crawler_id INTEGER NOT NULL,
    fetch_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    status INTEGER NOT NULL,
    protocol INTEGER NOT NULL,
    conn_kind INTEGER NOT NULL,
    artifact INTEGER NOT NULL,      -- Artifact number, 0 = none
    connection_id TEXT NOT NULL,
    sni TEXT,                       -- NULL = not reported, '' = no SNI sent
    request_index INTEGER,
    address_id INTEGER NOT NULL,
    cert_covers INTEGER,
    origin_frame INTEGER,
    via_alt_svc INTEGER NOT NULL,
    retry_of TEXT                   -- NULL = not a retry
  );
  CREATE UNIQUE INDEX fetch_detail_fetch ON fetch_detail (crawler_id, fetch_id);
  CREATE INDEX fetch_detail_host_time ON fetch_detail (host_id, time_ms);
  CREATE INDEX fetch_detail_time ON fetch_detail (time_ms);
  CREATE INDEX fetch_detail_retry ON fetch_detail (crawler_id, retry_of) WHERE retry_of IS NOT NULL;

  CREATE TABLE requests (
    request_id TEXT PRIMARY KEY,
    digest BLOB NOT NULL,           -- SHA-256 of the request message
    created_ms INTEGER NOT NULL,
    result TEXT NOT NULL            -- JSON of the response (counts and rejections; never a URL)
  );
  CREATE INDEX requests_created ON requests (created_ms);
  `,
  // fetch_hourly keyed by hour first: fetches arrive in time order, so a batch's upserts land on the few pages
  // of the current hours instead of one page per host all over the table. Measured on the benchmark workload,
  // that cut the write cost per record about 4x and halved the table (host-first inserts split pages in the
  // middle). Per-host reads seek (hour, host_id) once per hour of their window instead. The hour index goes:
  // the key now serves retention's range delete.
  `
  CREATE TABLE fetch_hourly_by_hour (
    hour INTEGER NOT NULL,
    host_id INTEGER NOT NULL,
    status INTEGER NOT NULL,
    protocol INTEGER NOT NULL,
    conn_kind INTEGER NOT NULL,
    address_id INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (hour, host_id, status, protocol, conn_kind, address_id)
  ) WITHOUT ROWID;
  INSERT INTO fetch_hourly_by_hour (hour, host_id, status, protocol, conn_kind, address_id, count)
    SELECT hour, host_id, status, protocol, conn_kind, address_id, count FROM fetch_hourly ORDER BY hour, host_id;
  DROP TABLE fetch_hourly;
  ALTER TABLE fetch_hourly_by_hour RENAME TO fetch_hourly;
  `,
  // Reporting at scale. fetch_daily rolls a host's traffic per server address up to the day, with its own
  // connections' figures beside the total, so a 30-day window reads about 30 rows a host and address, plus the
  // hours of its two partial days from fetch_hourly, instead of 720 hourly seeks. Keyed by day first for the
  // reason fetch_hourly is keyed by hour; one row for both kinds of connection halves the upserts at ingest.
  // retry_statuses keeps, on each detail row, the statuses of the fetches that retried it: filled at ingest from
  // either side (the retry or the original may come first), so a read no longer looks retries up row by row.
  `
  CREATE TABLE fetch_daily (
    day INTEGER NOT NULL,              -- days since the Unix epoch (UTC)
    host_id INTEGER NOT NULL,
    address_id INTEGER NOT NULL,
    fetches INTEGER NOT NULL,
    answered INTEGER NOT NULL,         -- status other than 421, any connection
    own_fetches INTEGER NOT NULL,      -- on connections opened for the host itself (ConnKind OWN)
    own_misdirected INTEGER NOT NULL,  -- of those, status 421
    own_refused INTEGER NOT NULL,      -- of those, status 400 or 403
    own_last_answered INTEGER,         -- latest hour of an own-connection status other than 421
    PRIMARY KEY (day, host_id, address_id)
  ) WITHOUT ROWID;
  INSERT INTO fetch_daily (day, host_id, address_id, fetches, answered, own_fetches, own_misdirected, own_refused,
      own_last_answered)
    SELECT hour / 24, host_id, address_id, SUM(count), SUM(CASE WHEN status != 421 THEN count ELSE 0 END),
      SUM(CASE WHEN conn_kind = 1 THEN count ELSE 0 END),
      SUM(CASE WHEN conn_kind = 1 AND status = 421 THEN count ELSE 0 END),
      SUM(CASE WHEN conn_kind = 1 AND status IN (400, 403) THEN count ELSE 0 END),
      MAX(CASE WHEN conn_kind = 1 AND status != 421 THEN hour END)
    FROM fetch_hourly GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

  -- Which hosts have a 421 or refusal in a window, from the index alone.
  CREATE INDEX fetch_detail_time_host ON fetch_detail (time_ms, host_id, status);
  DROP INDEX fetch_detail_time;

  ALTER TABLE fetch_detail ADD COLUMN retry_statuses TEXT;  -- comma-separated, NULL = never retried
  UPDATE fetch_detail SET retry_statuses = (SELECT group_concat(r.status) FROM fetch_detail r
    WHERE r.crawler_id = fetch_detail.crawler_id AND r.retry_of = fetch_detail.fetch_id);
  `,
];
