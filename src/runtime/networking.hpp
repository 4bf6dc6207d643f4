// Glue between the container runtime and src/net: what a container's spec
// asks of the network module, and where its results are kept (state.network).
#pragma once
#include <sys/types.h>

#include <vector>

#include "net/network.hpp"
#include "runtime/spec.hpp"
#include "runtime/state.hpp"

namespace nrun::runtime {

// True when the container joins networks (bridge or user networks), as
// opposed to none, host or another container's namespace.
bool uses_networks(const ContainerSpec& spec);
// The networks joined, eth0 first (`net` alone when `networks` is empty).
std::vector<net::NetworkAttachment> attachments_of(const ContainerSpec& spec);

net::ContainerNetInfo net_info(const ContainerRecord& rec);

// In the monitor, with init held in its new network namespace: veth pairs,
// addresses, routes, published ports, /etc/hosts and /etc/resolv.conf.
// Records what it made in state.network. Throws after undoing its own work.
void attach_networks(StateStore& store, const ContainerRecord& rec, pid_t init_pid, ContainerState& state);

// Idempotent and never throws: undoes what state.network records or, when
// that was lost, whatever carries the container's id. Failures are logged
// as warnings and leave state.network in place for a later retry.
void detach_networks(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept;

// True when a state.network record still lists endpoints or published
// ports, or is the intent of a launch (false for null: whether a lost
// record hides any is not known here).
bool network_record_holds(const nlohmann::json& network);

// state.network of a launch that is about to attach (intent first,
// recorded with the monitor's pid before anything is made): what it holds
// is found by the container's id, as for a lost record, by rm -f, gc (once
// that monitor is gone) and the next start.
nlohmann::json network_intent();

// gc: releases leases and published ports whose container record is gone.
// Never throws; failures are logged as warnings.
void release_orphaned_networking(StateStore& store) noexcept;

// The generated files init bind-mounts (/etc/hosts, /etc/resolv.conf);
// empty when the container joins no network.
std::vector<VolumeSpec> network_file_mounts(const StateStore& store, const ContainerRecord& rec);

}  // namespace nrun::runtime
