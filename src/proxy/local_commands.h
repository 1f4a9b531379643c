// Commands the proxy answers itself because they concern the client's
// connection to the proxy, not data: PING, ECHO, AUTH, HELLO, SELECT,
// CLIENT ..., TIME, QUIT, RESET. Replies match redis-server's byte for byte.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace redkube::proxy {

struct RequestContext;

using LocalCommand = void (*)(RequestContext& ctx, std::span<const std::string_view> argv);

// The handler for a command's full name ("ping", "client|setname"), or
// nullptr if the proxy does not answer it itself.
LocalCommand FindLocalCommand(std::string_view full_name);

// Redis's error for an unknown command, with the arguments it quotes.
std::string UnknownCommandError(std::span<const std::string_view> argv);

// Whether `given` equals the proxy password; constant time in its length.
bool PasswordMatches(std::string_view given, std::string_view password);

}  // namespace redkube::proxy
