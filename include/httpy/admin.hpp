#pragma once

#include "httpy/router.hpp"
#include "httpy/server_options.hpp"

#include <functional>
#include <optional>
#include <string>

namespace httpy {

class metrics_writer;

/// What an admin listener reports, each read when a probe or a scrape asks.
struct admin_probes {
    /// Writes the families of `/metrics` (e.g. `server::write_metrics`,
    /// `write_process_metrics`); unset: a page with no family.
    std::function<void(metrics_writer&)> metrics;
    /// Why the process should get no traffic now ("draining", "saturated: ..."), or nullopt
    /// when it is ready; unset: always ready.
    std::function<std::optional<std::string>()> not_ready;
};

/// The routes of an admin listener, all native (no Python on the path):
///  - `GET /metrics`: Prometheus text, or OpenMetrics when the scrape's `Accept` asks for it;
///  - `GET /healthz`: 200 whenever it is answered at all, so a wedged IO loop fails it;
///  - `GET /readyz`: 200 `ready`, or 503 with the reason `probes.not_ready` gives.
/// HEAD is answered as GET; other methods get 405, other paths 404.
router admin_router(admin_probes probes);

/// Options for the server of an admin listener on `host:port`: few connections, short
/// timeouts and drain, no request metrics of its own (probes and scrapes are not traffic).
server_options admin_server_options(std::string host, unsigned short port);

} // namespace httpy
