import { serve } from "./serve.js";

serve().catch((err) => {
  process.stderr.write(`crawldiag: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
