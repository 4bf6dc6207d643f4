// The loopback interface of a fresh network namespace starts down.
#pragma once

namespace nrun::net {

// Brings up "lo" in the calling thread's network namespace.
void bring_up_loopback();

}  // namespace nrun::net
