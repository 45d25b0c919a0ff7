// Mallory's side of DNS rebinding (SEMANTICS.md §6.3): an authoritative server for its domain that answers first
// with Mallory's own address and then with the victim's private address, both with a 1-second TTL, and a web
// server that serves the attack page on the landing port and on the target's port (so the page and the rebound
// name share one origin) and collects what the page's script posts back.

import type { Cast } from "./cast.js";
import { installAuthoritativeDns } from "../../sim/services/authoritative-dns.js";
import type { AuthoritativeDnsHandle } from "../../sim/services/authoritative-dns.js";
import { httpResponse, serveHttp } from "../../sim/services/http.js";
import { bodyText } from "../../sim/services/http.js";

/** The shortest TTL resolvers honour without clamping; the browser re-resolves once it runs out. */
export const REBIND_TTL_SECONDS = 1;
export const EXFIL_PATH = "/exfil";
const LANDING_PORT = 80;

/** The page Mallory serves; anything else posted back came from somewhere else. */
export const MALLORY_PAGE = "<html><body>cute cat pictures<script>/* rebinding */</script></body></html>\n";

export interface RebindingServer {
  readonly dns: AuthoritativeDnsHandle;
  /** Bodies posted to EXFIL_PATH, with the time they arrived. */
  readonly exfiltrated: { readonly body: string; readonly at: number }[];
  /** Page requests served, by port. */
  readonly pagesServed: number[];
}

export function startRebindingServer(cast: Cast, domain: string, victim: string, targetPort: number): RebindingServer {
  const { mallory, twin } = cast;
  const server: RebindingServer = {
    dns: installAuthoritativeDns(mallory.node, {
      zones: {
        [domain]: [
          { address: mallory.address, ttl: REBIND_TTL_SECONDS },
          { address: victim, ttl: REBIND_TTL_SECONDS },
        ],
      },
    }),
    exfiltrated: [],
    pagesServed: [],
  };
  const ports = targetPort === LANDING_PORT ? [LANDING_PORT] : [LANDING_PORT, targetPort];
  for (const port of ports)
    serveHttp(mallory.node, port, (req) => {
      if (req.method === "POST" && req.target === EXFIL_PATH) {
        server.exfiltrated.push({ body: bodyText(req), at: twin.sim.now });
        return httpResponse(204, "No Content", "");
      }
      server.pagesServed.push(port);
      return httpResponse(200, "OK", MALLORY_PAGE, { "content-type": "text/html" });
    });
  return server;
}
