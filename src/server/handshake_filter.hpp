#pragma once

namespace httpy::detail {

/// Makes the listening socket `fd` drop every TCP segment that opens a connection (SYN without
/// ACK), with a classic BPF socket filter, while the handshakes already under way still
/// complete and wait to be accepted. Closing a listening socket resets the connections whose
/// handshake completed but that were not accepted yet: a proxy that sent a request on one
/// (nginx never resends a POST once sent) loses it. With the filter on first, a client whose SYN
/// comes now retries it (after a second) and then finds the port closed, a refusal that a proxy
/// takes elsewhere. Returns false where the filter cannot be set (the stop then goes on as it
/// did without).
bool stop_new_handshakes(int fd) noexcept;

} // namespace httpy::detail
