// Pieces the builders share (object_builders.h is the interface): metadata
// with labels and the owner reference, the pod identity environment, the
// auth volume, security contexts, probes, affinities, PDBs. Internal to the
// builders' .cc files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "operator/redis_cluster.h"

namespace redkube::op::parts {

using nlohmann::json;

// metadata: name, namespace, labels, ownerReferences.
json Metadata(const ClusterIdentity& id, const std::string& name, json labels);
// {apiVersion, kind, metadata}; the caller adds spec (or data).
json Object(std::string_view api_version, std::string_view kind, json metadata);

// POD_IP (status.podIP), POD_NAME, POD_NAMESPACE from the downward API: the
// container arguments refer to them as $(POD_IP) and $(POD_NAME).
json PodIdentityEnv();

// The projected volume "auth" at /etc/redkube/auth: api-token from NAME-auth,
// password from NAME-auth or from spec.passwordSecret (mounted as "password"
// either way, so every command line is the same).
json AuthVolume(const RedisClusterSpec& spec, const ClusterIdentity& id);
json AuthMount();
std::string AuthFile(std::string_view key);  // /etc/redkube/auth/KEY

// Non-root, no privilege escalation, read-only root: every container writes
// only to its volumes. fsGroup makes the PVCs writable by that user.
json PodSecurityContext();
json ContainerSecurityContext();

json TcpProbe(int port, int period_seconds, int failure_threshold);
json HttpProbe(std::string_view path, int port, int period_seconds, int failure_threshold);

// Required (shards) or preferred (everything else) anti-affinity between the
// pods `selector` matches, on kubernetes.io/hostname.
json RequiredHostAntiAffinity(const json& selector);
json PreferredHostAntiAffinity(const json& selector);

// A PersistentVolumeClaim template named `name`.
json ClaimTemplate(const std::string& name, const std::string& storage_class, const std::string& size);

// policy/v1 PodDisruptionBudget with maxUnavailable 1.
json PodDisruptionBudget(const ClusterIdentity& id, const std::string& name, json labels, json selector);

// A ClusterIP Service (headless when `headless`).
json Service(const ClusterIdentity& id, const std::string& name, json labels, json selector, json ports,
             bool headless);
json ServicePort(std::string_view name, int port);

// Standard base64 (Secret data).
std::string Base64(std::string_view bytes);

}  // namespace redkube::op::parts
