"""How much audit log a k0rdent management cluster writes under several audit policies (an estimate, not a trace).

The estimate has three parts, all in this file and all deterministic (no randomness, no clock in the figures):

1. A request mix: every kind of request a quiet k0rdent management cluster sends to kube-apiserver, each as an
   audit.k8s.io/v1 Event-shaped dict (user, verb, objectRef or requestURI) with a rate per hour and whether it is
   long-running. ``request_mix`` builds it; its docstring lists the assumptions behind each rate.
2. Bytes per audit event: for each kind, full audit Events are built as kube-apiserver's JSON log backend writes
   them (compact JSON, one event per line: ``len(json.dumps(event, separators=(",", ":"))) + 1``) for every level
   and stage. Metadata carries no bodies; Request adds ``requestObject`` when the request has a body (create,
   update, patch, delete options, TokenReview, ...); RequestResponse also adds ``responseObject`` (the object,
   or the whole list for a list; watches, exec and non-resource requests have none). Bodies are real-shaped
   Kubernetes objects built here (a Lease, a Node status patch, Pods, a Deployment, Flux, CAPI, Sveltos and
   k0rdent objects, lists of them) whose ``metadata.managedFields`` are derived from the fields each manager
   owns, as the API server records them, so ``omitManagedFields`` can drop exactly them. The body sizes are
   printed at the end. RequestReceived events carry no bodies, no responseStatus and no annotations (the audit
   filter emits them before the body is read and before authorization); ResponseStarted (long-running requests
   only) carries responseStatus and annotations; ResponseComplete carries everything its level allows.
3. The policy engine: each kind is evaluated once per policy with ``CompiledPolicy.evaluate``; its level and
   omitStages decide which stages are written and at which level; the rule-level ``omitManagedFields`` (when set)
   overrides the policy-level one, as in kube-apiserver. Events/hour = rate x written stages.

Policies: (a) ``rules: [{level: Metadata}]``; (b) the k0rdent baseline (``merge_rules`` of
roles/k0s_audit/vars/main/baseline.yml, nothing added); (c) (b) with ``omitManagedFields: true``; (d) the ``cis``
profile, which renders the same policy as (b) (the profile only changes retention and turns CIS 3.2.2 findings
into errors), so its events equal (b)'s; shown instead is what its retention holds.

Run from the repository root:
    .venv/bin/python benchmarks/audit_volume.py [--controllers N] [--workers N] [--controller-kubelets]
                                               [--child-clusters N] [--timing-rounds N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from collection_root import collections_root  # noqa: E402  (one shim for tests and benchmarks)

MIB = 1024 * 1024  # kube-apiserver's --audit-log-maxsize "megabytes" are lumberjack's MiB
SHORT_STAGES = ("RequestReceived", "ResponseComplete")
LONG_STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete")
LEVELS = ("Metadata", "Request", "RequestResponse")

# Rates (see request_mix).
WATCH_RESTARTS_PER_HOUR = 8  # client-go reflectors end each watch after a random 5-10 min (mean 7.5 min)
RELISTS_PER_HOUR = 0.5  # an informer lists again after a restart or an expired resourceVersion: once in 2 h
NODE_STATUS_SECONDS = 10  # kubelet --node-status-update-frequency
NODE_LEASE_SECONDS = 10  # kubelet lease renewal (leaseDurationSeconds 40 / 4)
LEADER_RETRY_SECONDS = 2  # client-go / controller-runtime leader election RetryPeriod
APISERVER_LEASE_SECONDS = 10  # kube-apiserver identity lease (kube-system/apiserver-<id>)
PROBE_SECONDS = 10  # each of /healthz, /readyz, /livez, per kube-apiserver
METRICS_SCRAPE_SECONDS = 30  # Prometheus scrape of each kube-apiserver's /metrics
RECONCILES_PER_HOUR = 6  # Flux/CAPI/Sveltos periodic reconcile, every 10 min
SYSTEM_PODS = 60  # k0rdent, CAPI + providers, Flux, Sveltos, cert-manager, velero, coredns, metrics-server, ...
DAEMONSET_PODS = 3  # kube-proxy, kube-router, konnectivity-agent on every kubelet node

TS_RECEIVED = "2026-11-29T14:07:01.123456Z"
TS_STAGE = "2026-11-29T14:07:01.131802Z"
TS_OBJECT = "2026-11-29T09:41:17Z"
IMAGE_REGISTRY = "registry.example.com"


def uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "k0rdent-audit-volume/" + seed))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def size(value: Any) -> int:
    return len(compact(value))


# --------------------------------------------------------------------------------------------------------------
# Real-shaped Kubernetes objects


def fields_v1(value: Any) -> Any:
    """The FieldsV1 set of ``value`` as the API server records it: maps by field, keyed lists by key, atomics {}."""
    if isinstance(value, dict):
        return {"f:" + key: fields_v1(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        result: dict[str, Any] = {}
        for item in value:
            key = next((name for name in ("name", "type", "containerPort", "mountPath") if name in item), None)
            if key is None:
                return {}
            result["k:" + compact({key: item[key]})] = {".": {}, **fields_v1(item)}
        return result
    return {}


def managed(api_version: str, *owners: tuple[str, str, str, dict]) -> list[dict]:
    """managedFields entries; each owner is (manager, operation, subresource, the part of the object it owns)."""
    entries = []
    for manager, operation, subresource, part in owners:
        entry = {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": TS_OBJECT,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(part),
        }
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    return entries


def k8s_object(
    api_version: str,
    kind: str,
    name: str,
    namespace: str,
    body: dict,
    owners: list[tuple[str, str, str, list[str]]],
    labels: Optional[dict] = None,
    annotations: Optional[dict] = None,
    owner_refs: Optional[list] = None,
    generation: Optional[int] = 1,
) -> dict:
    """An object with server-set metadata; ``owners`` are (manager, operation, subresource, top-level keys owned)."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(uid=uid(f"{kind}/{namespace}/{name}"), resourceVersion="48213377")
    if generation is not None:
        metadata["generation"] = generation
    metadata["creationTimestamp"] = TS_OBJECT
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if owner_refs:
        metadata["ownerReferences"] = owner_refs
    obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
    parts = []
    for manager, operation, subresource, keys in owners:
        part: dict[str, Any] = {}
        for key in keys:
            if key.startswith("metadata."):
                field = key.split(".", 1)[1]
                if field in metadata:
                    part.setdefault("metadata", {})[field] = metadata[field]
            elif key in obj:
                part[key] = obj[key]
        parts.append((manager, operation, subresource, part))
    metadata["managedFields"] = managed(api_version, *parts)
    return obj


def without_managed_fields(value: Any) -> Any:
    """``value`` with every ``metadata.managedFields`` removed (objects and list items), as omitManagedFields does."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "metadata" and isinstance(item, dict):
                result[key] = {name: field for name, field in item.items() if name != "managedFields"}
            else:
                result[key] = without_managed_fields(item)
        return result
    if isinstance(value, list):
        return [without_managed_fields(item) for item in value]
    return value


def object_list(api_version: str, kind: str, items: list[dict]) -> dict:
    stripped = [{key: value for key, value in item.items() if key not in ("apiVersion", "kind")} for item in items]
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "48213377"}, "items": stripped}


def condition(kind: str, status: str = "True", reason: str = "", message: str = "", heartbeat: bool = False) -> dict:
    result: dict[str, Any] = {"type": kind, "status": status}
    if heartbeat:
        result["lastHeartbeatTime"] = TS_RECEIVED[:19] + "Z"
    result["lastTransitionTime"] = TS_OBJECT
    if reason:
        result["reason"] = reason
    if message:
        result["message"] = message
    return result


def lease(name: str, namespace: str, holder: str, manager: str) -> dict:
    spec = {
        "holderIdentity": holder,
        "leaseDurationSeconds": 15 if namespace != "kube-node-lease" else 40,
        "acquireTime": "2026-11-29T09:41:17.402991Z",
        "renewTime": "2026-11-29T14:07:01.118203Z",
        "leaseTransitions": 3,
    }
    return k8s_object(
        "coordination.k8s.io/v1", "Lease", name, namespace, {"spec": spec}, [(manager, "Update", "", ["spec"])]
    )


NODE_CONDITIONS = [
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ("NetworkUnavailable", "False", "RouteCreated", "kube-router is running on this node"),
]


def node_images(count: int) -> list[dict]:
    images = []
    for index in range(count):
        repo = f"{IMAGE_REGISTRY}/k0rdent/component-{index:02d}"
        digest = uuid.uuid5(uuid.NAMESPACE_URL, repo).hex * 2
        images.append({"names": [f"{repo}@sha256:{digest}", f"{repo}:v1.{index}.0"], "sizeBytes": 31_000_000 + index})
    return images


def node(name: str) -> dict:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.k0sproject.io/role": "worker",
        "topology.kubernetes.io/region": "eu-central-1",
        "topology.kubernetes.io/zone": "eu-central-1a",
    }
    annotations = {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "kube-router.io/pod-cidr": "10.244.1.0/24",
    }
    resources = {"cpu": "4", "ephemeral-storage": "101430960Ki", "hugepages-2Mi": "0", "memory": "16372548Ki"}
    status = {
        "capacity": {**resources, "pods": "110"},
        "allocatable": {**resources, "ephemeral-storage": "93478772582", "pods": "110"},
        "conditions": [condition(*item, heartbeat=True) for item in NODE_CONDITIONS],
        "addresses": [{"type": "InternalIP", "address": "10.0.1.21"}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": uid(name + "/machine").replace("-", ""),
            "systemUUID": uid(name + "/system"),
            "bootID": uid(name + "/boot"),
            "kernelVersion": "6.1.0-28-cloud-amd64",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "containerRuntimeVersion": "containerd://1.7.24",
            "kubeletVersion": "v1.32.2+k0s",
            "kubeProxyVersion": "v1.32.2+k0s",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": node_images(30),
    }
    spec = {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "providerID": f"aws:///eu-central-1a/{name}"}
    return k8s_object(
        "v1",
        "Node",
        name,
        "",
        {"spec": spec, "status": status},
        [
            ("kubelet", "Update", "", ["metadata.labels", "metadata.annotations"]),
            ("kube-controller-manager", "Update", "", ["spec"]),
            ("kubelet", "Update", "status", ["status"]),
        ],
        labels,
        annotations,
        generation=None,
    )


def node_status_patch() -> dict:
    """kubelet's strategic-merge patch of nodes/status: conditions with heartbeats, plus the image list."""
    conditions = [condition(*item, heartbeat=True) for item in NODE_CONDITIONS]
    return {
        "status": {
            "$setElementOrder/conditions": [{"type": item[0]} for item in NODE_CONDITIONS],
            "conditions": conditions,
            "images": node_images(14),
        }
    }


def container(name: str, image: str, args: int = 6) -> dict:
    return {
        "name": name,
        "image": f"{IMAGE_REGISTRY}/{image}",
        "args": [f"--option-{index}=value-{index}" for index in range(args)],
        "ports": [{"containerPort": 8080, "name": "metrics", "protocol": "TCP"}],
        "env": [
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            }
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "64Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8081, "scheme": "HTTP"}, "periodSeconds": 20},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8081, "scheme": "HTTP"}, "periodSeconds": 10},
        "volumeMounts": [
            {
                "name": "kube-api-access-7xq2p",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def container_status(name: str, image: str) -> dict:
    return {
        "name": name,
        "state": {"running": {"startedAt": TS_OBJECT}},
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": f"{IMAGE_REGISTRY}/{image}",
        "imageID": f"{IMAGE_REGISTRY}/{image.split(':')[0]}@sha256:{uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2}",
        "containerID": "containerd://" + uuid.uuid5(uuid.NAMESPACE_URL, name + image).hex * 2,
        "started": True,
    }


POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def pod(name: str, namespace: str, node_name: str = "worker-1") -> dict:
    image = f"k0rdent/{name.rsplit('-', 2)[0]}:v1.2.0"
    spec = {
        "volumes": [
            {
                "name": "kube-api-access-7xq2p",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        ],
        "containers": [container("manager", image)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 10,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": name.rsplit("-", 2)[0],
        "nodeName": node_name,
        "securityContext": {"runAsNonRoot": True},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    status = {
        "phase": "Running",
        "conditions": [condition(kind) for kind in POD_CONDITIONS],
        "hostIP": "10.0.1.21",
        "hostIPs": [{"ip": "10.0.1.21"}],
        "podIP": "10.244.1.37",
        "podIPs": [{"ip": "10.244.1.37"}],
        "startTime": TS_OBJECT,
        "containerStatuses": [container_status("manager", image)],
        "qosClass": "Burstable",
    }
    owner = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": name.rsplit("-", 1)[0],
            "uid": uid("rs/" + name),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = {"app.kubernetes.io/name": name.rsplit("-", 2)[0], "pod-template-hash": "5d8f7c9b6d"}
    return k8s_object(
        "v1",
        "Pod",
        name,
        namespace,
        {"spec": spec, "status": status},
        [
            ("kube-controller-manager", "Update", "", ["metadata.labels", "metadata.ownerReferences", "spec"]),
            ("kubelet", "Update", "status", ["status"]),
        ],
        labels,
        owner_refs=owner,
        generation=None,
    )


def pod_status_patch(name: str) -> dict:
    image = f"k0rdent/{name.rsplit('-', 2)[0]}:v1.2.0"
    return {
        "metadata": {"uid": uid("Pod/" + name)},
        "status": {
            "$setElementOrder/conditions": [{"type": kind} for kind in POD_CONDITIONS],
            "conditions": [condition(kind) for kind in POD_CONDITIONS],
            "containerStatuses": [container_status("manager", image)],
            "podIP": "10.244.1.37",
            "podIPs": [{"ip": "10.244.1.37"}],
        },
    }


def deployment(name: str, namespace: str, applied: bool = True) -> dict:
    spec = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [container("web", f"team/{name}:2.4.1", args=2)], "serviceAccountName": name},
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    last_applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}}
    last_applied["spec"] = {key: spec[key] for key in ("replicas", "selector", "template")}
    annotations = {"deployment.kubernetes.io/revision": "3"}
    if applied:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = compact(last_applied) + "\n"
    status = {
        "observedGeneration": 3,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "conditions": [
            condition("Available", reason="MinimumReplicasAvailable", message="Deployment has minimum availability."),
            condition("Progressing", reason="NewReplicaSetAvailable", message=f'ReplicaSet "{name}-7c9f" has ...'),
        ],
    }
    return k8s_object(
        "apps/v1",
        "Deployment",
        name,
        namespace,
        {"spec": spec, "status": status},
        [
            ("kubectl-client-side-apply", "Update", "", ["metadata.annotations", "spec"]),
            ("kube-controller-manager", "Update", "status", ["status"]),
        ],
        {"app": name},
        annotations,
        generation=3,
    )


def apply_patch(name: str, namespace: str) -> dict:
    """kubectl apply (client-side) of a changed Deployment: a strategic-merge patch with the new last-applied."""
    current = deployment(name, namespace)
    return {
        "metadata": {
            "annotations": {
                key: current["metadata"]["annotations"][key]
                for key in current["metadata"]["annotations"]
                if key.startswith("kubectl")
            }
        },
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"image": f"{IMAGE_REGISTRY}/team/{name}:2.4.2", "name": "web"}],
                }
            }
        },
    }


def flux_helm_release(name: str) -> dict:
    spec = {
        "chart": {
            "spec": {
                "chart": name,
                "version": "1.2.0",
                "sourceRef": {"kind": "HelmRepository", "name": "k0rdent-catalog", "namespace": "kcm-system"},
                "reconcileStrategy": "ChartVersion",
            }
        },
        "interval": "10m",
        "releaseName": name,
        "targetNamespace": "kcm-system",
        "install": {"createNamespace": True, "remediation": {"retries": 3}},
        "upgrade": {"remediation": {"retries": 3}},
        "values": {"controller": {"replicas": 1, "logLevel": "info"}, "cluster": {"name": name, "region": "eu-1"}},
    }
    status = {
        "observedGeneration": 2,
        "conditions": [
            condition(
                "Ready", reason="UpgradeSucceeded", message=f"Helm upgrade succeeded for release kcm-system/{name}.v2"
            ),
            condition(
                "Released",
                reason="UpgradeSucceeded",
                message=f"Helm upgrade succeeded for release kcm-system/{name}.v2",
            ),
        ],
        "helmChart": f"kcm-system/kcm-system-{name}",
        "lastAttemptedRevision": "1.2.0",
        "lastAttemptedConfigDigest": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2,
        "lastAttemptedGeneration": 2,
        "history": [
            {
                "name": name,
                "namespace": "kcm-system",
                "version": 2,
                "status": "deployed",
                "chartName": name,
                "chartVersion": "1.2.0",
                "appVersion": "1.2.0",
                "configDigest": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, name + "/c").hex * 2,
                "digest": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, name + "/d").hex * 2,
                "firstDeployed": TS_OBJECT,
                "lastDeployed": TS_OBJECT,
            }
        ],
        "storageNamespace": "kcm-system",
    }
    return k8s_object(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        name,
        "kcm-system",
        {"spec": spec, "status": status},
        [
            ("manager", "Update", "", ["metadata.labels", "metadata.ownerReferences", "spec"]),
            ("helm-controller", "Update", "", ["metadata.finalizers"]),
            ("helm-controller", "Update", "status", ["status"]),
        ],
        {"k0rdent.mirantis.com/managed": "true"},
        owner_refs=[
            {
                "apiVersion": "k0rdent.mirantis.com/v1beta1",
                "kind": "ClusterDeployment",
                "name": name,
                "uid": uid("cd/" + name),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        generation=2,
    )


def status_patch(obj: dict) -> dict:
    """A controller-runtime merge patch of status: the conditions and observedGeneration it recomputed."""
    status = obj["status"]
    return {"status": {key: status[key] for key in ("conditions", "observedGeneration") if key in status}}


def cluster_deployment(name: str) -> dict:
    spec = {
        "template": "aws-standalone-cp-1-0-0",
        "credential": "aws-cluster-identity-cred",
        "propagateCredentials": True,
        "config": {
            "clusterLabels": {"env": "prod"},
            "region": "eu-central-1",
            "controlPlaneNumber": 3,
            "workersNumber": 3,
            "controlPlane": {"instanceType": "t3.large", "rootVolumeSize": 32},
            "worker": {"instanceType": "t3.xlarge", "rootVolumeSize": 64},
        },
        "serviceSpec": {
            "services": [{"name": "ingress-nginx", "namespace": "ingress", "template": "ingress-nginx-4-11-3"}]
        },
    }
    status = {
        "observedGeneration": 1,
        "k8sVersion": "v1.32.2+k0s.0",
        "conditions": [
            condition(kind, reason="Succeeded", message=message)
            for kind, message in (
                ("TemplateReady", "Template is valid"),
                ("HelmChartReady", "Helm chart is valid"),
                ("CredentialReady", "Credential is Ready"),
                ("HelmReleaseReady", "Helm upgrade succeeded for release kcm-system/" + name),
                ("ServicesInReadyState", "1/1"),
                (
                    "CAPIClusterSummary",
                    "* InfrastructureReady: True\n* ControlPlaneAvailable: True\n* WorkersAvailable",
                ),
                ("Ready", "Object is ready"),
            )
        ],
        "availableUpgrades": ["aws-standalone-cp-1-0-1"],
    }
    return k8s_object(
        "k0rdent.mirantis.com/v1beta1",
        "ClusterDeployment",
        name,
        "kcm-system",
        {"spec": spec, "status": status},
        [
            ("kubectl-client-side-apply", "Update", "", ["spec"]),
            ("manager", "Update", "", ["metadata.finalizers", "metadata.labels"]),
            ("manager", "Update", "status", ["status"]),
        ],
        {"k0rdent.mirantis.com/component": "kcm", "helm.toolkit.fluxcd.io/name": name},
    )


def capi_object(kind: str, group_version: str, name: str, conditions: int) -> dict:
    spec = {
        "clusterName": name.split("-md-")[0],
        "bootstrap": {"dataSecretName": name + "-bootstrap"},
        "infrastructureRef": {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2",
            "kind": "AWSMachine",
            "name": name,
        },
        "providerID": f"aws:///eu-central-1a/i-0{uid(name).replace('-', '')[:16]}",
        "version": "v1.32.2+k0s.0",
    }
    status = {
        "observedGeneration": 2,
        "phase": "Running",
        "bootstrapReady": True,
        "infrastructureReady": True,
        "nodeRef": {"apiVersion": "v1", "kind": "Node", "name": "ip-10-0-1-21.eu-central-1.compute.internal"},
        "addresses": [
            {"type": "InternalIP", "address": "10.0.1.21"},
            {"type": "InternalDNS", "address": "ip-10-0-1-21"},
        ],
        "conditions": [condition(f"Condition{index}", reason="Ready" if index else "") for index in range(conditions)],
        "v1beta2": {
            "conditions": [
                {**condition(f"Condition{index}", reason="Ready"), "observedGeneration": 2}
                for index in range(conditions)
            ]
        },
    }
    return k8s_object(
        group_version,
        kind,
        name,
        "kcm-system",
        {"spec": spec, "status": status},
        [
            ("manager", "Update", "", ["metadata.labels", "metadata.ownerReferences", "spec"]),
            ("manager", "Update", "status", ["status"]),
        ],
        {"cluster.x-k8s.io/cluster-name": name.split("-md-")[0], "cluster.x-k8s.io/deployment-name": name + "-md"},
        owner_refs=[
            {
                "apiVersion": group_version,
                "kind": "MachineSet",
                "name": name + "-ms",
                "uid": uid(name + "-ms"),
                "controller": True,
            }
        ],
        generation=2,
    )


def sveltos_object(kind: str, group_version: str, name: str) -> dict:
    spec = {
        "clusterName": name,
        "clusterNamespace": "kcm-system",
        "clusterType": "Capi",
        "clusterProfileSpec": {
            "clusterSelector": {"matchLabels": {"k0rdent.mirantis.com/cluster": name}},
            "syncMode": "Continuous",
            "helmCharts": [
                {
                    "repositoryURL": f"oci://{IMAGE_REGISTRY}/k0rdent-catalog/charts",
                    "repositoryName": "k0rdent-catalog",
                    "chartName": "ingress-nginx",
                    "chartVersion": "4.11.3",
                    "releaseName": "ingress-nginx",
                    "releaseNamespace": "ingress",
                    "helmChartAction": "Install",
                }
            ],
        },
    }
    status = {
        "featureSummaries": [
            {
                "featureID": "Helm",
                "hash": "Z6r0x8VdFJtQ4f8wz0cbl6qcyq2H6G5nXSvX3xq0yBk=",
                "status": "Provisioned",
                "lastAppliedTime": TS_OBJECT,
            }
        ],
        "helmReleaseSummaries": [
            {
                "releaseName": "ingress-nginx",
                "releaseNamespace": "ingress",
                "status": "Managing",
                "valuesHash": "a1b2c3d4e5f6",
            }
        ],
        "dependencies": "no dependencies",
        "conditions": [condition("Ready")],
    }
    return k8s_object(
        group_version,
        kind,
        name,
        "kcm-system",
        {"spec": spec, "status": status},
        [
            ("manager", "Update", "", ["metadata.labels", "metadata.ownerReferences", "metadata.finalizers", "spec"]),
            ("manager", "Update", "status", ["status"]),
        ],
        {"projectsveltos.io/cluster-name": name, "projectsveltos.io/cluster-profile-name": "k0rdent-" + name},
        generation=4,
    )


def secret(name: str, namespace: str, data_bytes: int) -> dict:
    value = ("QUJD" * (data_bytes // 4 + 1))[:data_bytes]
    return k8s_object(
        "v1",
        "Secret",
        name,
        namespace,
        {"data": {"value": value}, "type": "cluster.x-k8s.io/secret"},
        [("manager", "Update", "", ["metadata.labels", "data", "type"])],
        {"cluster.x-k8s.io/cluster-name": name.rsplit("-", 1)[0]},
        generation=None,
    )


def configmap(name: str, namespace: str, data_bytes: int) -> dict:
    return k8s_object(
        "v1",
        "ConfigMap",
        name,
        namespace,
        {"data": {"values.yaml": ("replicas: 1\nlogLevel: info\n" * (data_bytes // 28 + 1))[:data_bytes]}},
        [("helm", "Update", "", ["metadata.labels", "data"])],
        {"app.kubernetes.io/managed-by": "Helm"},
        generation=None,
    )


def core_event(involved: str) -> dict:
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{involved}.1820f3a1c9d4e5b2", "namespace": "kcm-system"},
        "involvedObject": {
            "kind": "HelmRelease",
            "namespace": "kcm-system",
            "name": involved,
            "uid": uid("hr/" + involved),
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "resourceVersion": "48213377",
        },
        "reason": "UpgradeSucceeded",
        "message": f"Helm upgrade succeeded for release kcm-system/{involved}.v2 with chart {involved}@1.2.0",
        "source": {"component": "helm-controller"},
        "firstTimestamp": TS_OBJECT,
        "lastTimestamp": TS_OBJECT,
        "count": 1,
        "type": "Normal",
        "eventTime": None,
        "reportingComponent": "helm-controller",
        "reportingInstance": "",
    }


def token_request(audience: bool = False) -> dict:
    body: dict[str, Any] = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {
            "audiences": ["https://kubernetes.default.svc.cluster.local", "k0s"] if audience else None,
            "expirationSeconds": 3607,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": "kcm-controller-5d8f7c9b6d-x2x7q",
                "uid": uid("p"),
            },
        },
        "status": {"token": "", "expirationTimestamp": None},
    }
    return body


def token_review() -> dict:
    return {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"token": "eyJhbGciOiJSUzI1NiIsImtpZCI6I" + "x" * 900},
        "status": {"user": {}},
    }


def subject_access_review(answer: bool) -> dict:
    body: dict[str, Any] = {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {
            "nonResourceAttributes": None,
            "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "metrics", "name": "worker-1"},
            "user": "system:serviceaccount:kube-system:metrics-server",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
            "uid": uid("metrics-server"),
        },
        "status": {"allowed": False},
    }
    if answer:
        body["status"] = {
            "allowed": True,
            "reason": rbac(
                "system:metrics-server", "system:metrics-server", "ServiceAccount", "metrics-server/kube-system"
            ),
        }
    return body


DELETE_OPTIONS = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"}


# --------------------------------------------------------------------------------------------------------------
# Who sends requests


def rbac(binding: str, role: str, subject_kind: str, subject: str) -> str:
    """The authorization.k8s.io/reason annotation the RBAC authorizer writes."""
    return f'RBAC: allowed by ClusterRoleBinding "{binding}" of ClusterRole "{role}" to {subject_kind} "{subject}"'


@dataclass(frozen=True)
class Actor:
    user: dict
    source_ip: str
    user_agent: str
    authz_reason: str


def service_account(namespace: str, name: str, agent: str, reason: str = "") -> Actor:
    user = {
        "username": f"system:serviceaccount:{namespace}:{name}",
        "uid": uid(f"sa/{namespace}/{name}"),
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        "extra": {
            "authentication.kubernetes.io/credential-id": ["JTI=" + uid(f"jti/{namespace}/{name}")],
            "authentication.kubernetes.io/node-name": ["worker-1"],
            "authentication.kubernetes.io/node-uid": [uid("node/worker-1")],
            "authentication.kubernetes.io/pod-name": [f"{name}-5d8f7c9b6d-x2x7q"],
            "authentication.kubernetes.io/pod-uid": [uid(f"pod/{namespace}/{name}")],
        },
    }
    reason = reason or rbac(name, name, "ServiceAccount", f"{name}/{namespace}")
    return Actor(user, "10.244.1.37", agent, reason)


def x509_user(name: str, groups: list[str], agent: str, reason: str, source_ip: str = "10.0.1.11") -> Actor:
    extra = {
        "authentication.kubernetes.io/credential-id": ["X509SHA256=" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2]
    }
    return Actor(
        {"username": name, "groups": [*groups, "system:authenticated"], "extra": extra}, source_ip, agent, reason
    )


K8S_AGENT = "/v1.32.2+k0s (linux/amd64) kubernetes/4a3e9d1"
NODE = x509_user("system:node:worker-1", ["system:nodes"], "kubelet" + K8S_AGENT, "", "10.0.1.21")
KUBE_PROXY = service_account("kube-system", "kube-proxy", "kube-proxy" + K8S_AGENT)
KUBE_ROUTER = service_account("kube-system", "kube-router", "kube-router/v2.4.1 (linux/amd64)")
KCM = x509_user(
    "system:kube-controller-manager",
    [],
    "kube-controller-manager" + K8S_AGENT + "/leader-election",
    rbac("system:kube-controller-manager", "system:kube-controller-manager", "User", "system:kube-controller-manager"),
)
SCHEDULER = x509_user(
    "system:kube-scheduler",
    [],
    "kube-scheduler" + K8S_AGENT + "/leader-election",
    rbac("system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler"),
)
K0S = x509_user("k0s-controller", ["system:masters"], "k0s/v1.32.2+k0s (linux/amd64)", "")  # placeholder name
APISERVER = x509_user("system:apiserver", ["system:masters"], "kube-apiserver" + K8S_AGENT, "")
ANONYMOUS = Actor(
    {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
    "10.0.0.5",
    "HAProxy health check",
    rbac("system:public-info-viewer", "system:public-info-viewer", "Group", "system:unauthenticated"),
)
PROMETHEUS = service_account("monitoring", "prometheus-k8s", "Prometheus/2.55.1")
METRICS_SERVER_NODE = x509_user("system:node:worker-1", ["system:nodes"], "kubelet" + K8S_AGENT, "", "10.0.1.21")
K0RDENT = service_account("kcm-system", "kcm-controller-manager", "manager/v0.0.0 (linux/amd64) kubernetes/$Format")
CAPI = service_account("kcm-system", "capi-manager", "manager/v1.9.5 (linux/amd64) cluster-api")
FLUX_HELM = service_account("kcm-system", "helm-controller", "helm-controller/v1.2.0 (linux/amd64) flux")
FLUX_SOURCE = service_account("kcm-system", "source-controller", "source-controller/v1.5.0 (linux/amd64) flux")
SVELTOS = service_account("projectsveltos", "addon-controller", "manager/v0.52.0 (linux/amd64) projectsveltos")
CERT_MANAGER = service_account("kcm-system", "cert-manager", "cert-manager-controller/v1.17.1 (linux/amd64)")
KCM_SA = service_account(
    "kube-system",
    "replicaset-controller",
    "kube-controller-manager" + K8S_AGENT + "/system:serviceaccount:kube-system:replicaset-controller",
)
OPERATOR = Actor(
    {"username": "jane@example.com", "groups": ["oidc:platform-team", "system:authenticated"]},
    "192.0.2.44",
    "kubectl/v1.32.2 (linux/amd64) kubernetes/67a30c0",
    rbac("platform-admins", "cluster-admin", "Group", "oidc:platform-team"),
)


# --------------------------------------------------------------------------------------------------------------
# The request mix


@dataclass
class Kind:
    """One kind of request: what the engine sees, how often it happens and what its audit events carry."""

    label: str
    actor: Actor
    verb: str
    request_uri: str
    object_ref: Optional[dict]
    per_hour: float
    long_running: bool = False
    request_body: Optional[dict] = None
    response_body: Optional[dict] = None
    code: int = 200

    def engine_event(self) -> dict:
        event: dict[str, Any] = {"user": self.actor.user, "verb": self.verb, "requestURI": self.request_uri}
        if self.object_ref is not None:
            event["objectRef"] = self.object_ref
        return event

    def audit_event(self, level: str, stage: str, omit_managed_fields: bool) -> dict:
        """The audit.k8s.io/v1 Event kube-apiserver writes for this request at ``level`` and ``stage``."""
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": uid(f"audit/{self.label}"),
            "stage": stage,
            "requestURI": self.request_uri,
            "verb": self.verb,
            "user": self.actor.user,
            "sourceIPs": [self.actor.source_ip],
            "userAgent": self.actor.user_agent,
        }
        if self.object_ref is not None:
            event["objectRef"] = self.object_ref
        if stage != "RequestReceived":
            code = 101 if self.long_running and self.verb in ("create", "get") and self.object_ref else self.code
            event["responseStatus"] = {"metadata": {}, "code": code}
        if stage == "ResponseComplete":
            bodies = []
            if level in ("Request", "RequestResponse") and self.request_body is not None:
                bodies.append(("requestObject", self.request_body))
            if level == "RequestResponse" and self.response_body is not None:
                bodies.append(("responseObject", self.response_body))
            for key, body in bodies:
                event[key] = without_managed_fields(body) if omit_managed_fields else body
        event["requestReceivedTimestamp"] = TS_RECEIVED
        event["stageTimestamp"] = TS_STAGE
        if stage != "RequestReceived":
            event["annotations"] = {"authorization.k8s.io/decision": "allow"}
            if self.actor.authz_reason:
                event["annotations"]["authorization.k8s.io/reason"] = self.actor.authz_reason
        return event


def ref(
    resource: str, group: str = "", namespace: str = "", name: str = "", subresource: str = "", version: str = "v1"
):
    result: dict[str, str] = {"resource": resource}
    if namespace:
        result["namespace"] = namespace
    if name:
        result["name"] = name
    if group:
        result["apiGroup"] = group
    result["apiVersion"] = version
    if subresource:
        result["subresource"] = subresource
    return result


def uri_of(object_ref: dict, query: str = "") -> str:
    group = object_ref.get("apiGroup", "")
    path = f"/apis/{group}/{object_ref['apiVersion']}" if group else "/api/v1"
    if object_ref.get("namespace"):
        path += "/namespaces/" + object_ref["namespace"]
    path += "/" + object_ref["resource"]
    if object_ref.get("name"):
        path += "/" + object_ref["name"]
    if object_ref.get("subresource"):
        path += "/" + object_ref["subresource"]
    return path + ("?" + query if query else "")


WATCH_QUERY = "allowWatchBookmarks=true&resourceVersion=48213377&timeout=7m31s&timeoutSeconds=451&watch=true"


def request(label: str, actor: Actor, verb: str, object_ref: dict, per_hour: float, **options: Any) -> Kind:
    query = options.pop("query", "")
    if verb == "watch":
        options.setdefault("long_running", True)
        query = query or WATCH_QUERY
    elif verb == "list":
        query = query or "limit=500&resourceVersion=0"
    elif verb in ("get", "update", "patch") and not query:
        query = "timeout=10s"
    return Kind(label, actor, verb, uri_of(object_ref, query), object_ref, per_hour, **options)


def non_resource(label: str, actor: Actor, path: str, per_hour: float) -> Kind:
    return Kind(label, actor, "get", path, None, per_hour)


def request_mix(controllers: int, workers: int, controller_kubelets: bool, child_clusters: int) -> list[Kind]:
    """Requests per hour of a quiet k0rdent management cluster on k0s (steady state: nothing is being deployed).

    Cluster: ``controllers`` k0s controllers (kube-apiserver, kube-controller-manager, kube-scheduler, k0s and
    autopilot on each, leader-elected) and ``workers`` k0s workers; kubelet, kube-proxy and kube-router run on
    workers only unless ``controller_kubelets`` (k0s ``--enable-worker``). ~60 system pods (k0rdent's kcm, CAPI,
    k0smotron and 4 infrastructure providers, Flux source/helm/kustomize, 7 Sveltos managers, cert-manager, velero,
    coredns, metrics-server) plus 3 DaemonSet pods per node. ``child_clusters`` ClusterDeployments, each with a Flux
    HelmRelease, ~10 CAPI objects and Sveltos ClusterSummaries. A watch is re-established 8 times an hour (client-go
    ends each after a random 5-10 min). The usernames are those of a k0s cluster: kube-proxy runs as the service
    account kube-system:kube-proxy (not the user system:kube-proxy the baseline names); the name of k0s' own client
    is a placeholder (no baseline rule names it).

    ============================================  ===================================================================
    Traffic                                       Rate per hour
    ============================================  ===================================================================
    kubelet GET own node + PATCH nodes/status     every 10 s per node each (--node-status-update-frequency; the patch
                                                  carries conditions and the image list, ~4 KB: an upper bound, a
                                                  heartbeat-only patch is ~1 KB and kubelets >= 1.17 send one only
                                                  on change or every 5 min)
    kubelet UPDATE node Lease                     every 10 s per node
    kubelet PATCH pods/status                     12 per node (probe flaps, restarts)
    kubelet watches                               8 x (5 types + each pod's Secret and ConfigMap) per node
    kubelet CREATE serviceaccounts/token          every 48 min per pod (at 80 % of the 1 h token)
    kubelet CREATE TokenReview / SAR              every 2 min / 5 min per node (webhook authn/authz of
                                                  metrics-server scrapes, answers cached)
    kube-proxy, kube-router watches               8 x 2 types per node each
    leader election Leases                        leader UPDATE every 2 s, each standby GET every 2 s (client-go
                                                  >= 1.27 renews without a GET): kube-controller-manager,
                                                  kube-scheduler, k0s, autopilot (one per controller); 22
                                                  single-replica controllers (k0rdent 1, CAPI + providers 9, Flux 3,
                                                  Sveltos 7, cert-manager 2); kube-apiserver identity Lease UPDATE
                                                  every 10 s per controller
    controllers' informers                        8 watches + 0.5 lists per watched type: kube-controller-manager
                                                  50 built-in + 120 CRD types (GC, quota), kube-scheduler 12 per
                                                  controller, k0rdent 25, CAPI + providers 110, Flux 14, Sveltos 46,
                                                  cert-manager 18
    Flux (15 + 1 HelmRelease per child cluster)   per HelmRelease and HelmChart every 10 min: status PATCH (upper
                                                  bound: a no-op reconcile may write nothing); per HelmRelease: GET
                                                  valuesFrom ConfigMap, LIST Helm storage Secrets
    CAPI, per child cluster                       12 Machine + 12 AWSMachine + 6 control-plane status PATCHes, 6
                                                  kubeconfig Secret GETs
    Sveltos, per child cluster                    12 ClusterSummary status PATCHes, 12 report UPDATEs, 60 kubeconfig
                                                  Secret GETs
    k0rdent                                       12 ClusterDeployment status UPDATEs and 12 Secret GETs per child
                                                  cluster; 24 Management/Release status UPDATEs
    kube-controller-manager, cert-manager writes  30 Deployment status UPDATEs, 2 Certificate status UPDATEs
    Events                                        300 core CREATE + 300 core PATCH (repeats) + 60 events.k8s.io
    /healthz, /readyz, /livez                     each every 10 s per kube-apiserver (LB and k0s checks, anonymous)
    /metrics                                      every 30 s per kube-apiserver (Prometheus)
    API discovery (/apis/<group>/<version>)       600 (controllers and kubectl refreshing their caches)
    operators (kubectl)                           10 get pods -A (a list of 50 pods), 4 describe pod (GET + LIST
                                                  events), 6 get clusterdeployments -A, 1 exec, 2 apply of a
                                                  Deployment (GET + PATCH), 1 delete
    ============================================  ===================================================================
    """
    nodes = workers + (controllers if controller_kubelets else 0)
    pods = nodes * (SYSTEM_PODS / max(nodes, 1) + DAEMONSET_PODS)
    standbys = controllers - 1
    hour = 3600.0
    watch = WATCH_RESTARTS_PER_HOUR
    reconciles = (15 + child_clusters) * RECONCILES_PER_HOUR
    clusters = child_clusters

    pod_name = "kcm-controller-manager-5d8f7c9b6d-x2x7q"
    node_obj, system_pod = node("worker-1"), pod(pod_name, "kcm-system")
    node_lease = lease("worker-1", "kube-node-lease", "worker-1", "kubelet")
    leader_lease = lease("kcm-controller-manager-leader", "kcm-system", pod_name + "_" + uid("l"), "manager")
    release, cd = flux_helm_release("prod-eu-1"), cluster_deployment("prod-eu-1")
    machine = capi_object("Machine", "cluster.x-k8s.io/v1beta1", "prod-eu-1-md-7x2kq", 6)
    aws_machine = capi_object("AWSMachine", "infrastructure.cluster.x-k8s.io/v1beta2", "prod-eu-1-md-7x2kq", 4)
    summary = sveltos_object("ClusterSummary", "config.projectsveltos.io/v1beta1", "capi-prod-eu-1")
    report = sveltos_object("ClassifierReport", "lib.projectsveltos.io/v1beta1", "capi-prod-eu-1")
    kubeconfig, values = secret("prod-eu-1-kubeconfig", "kcm-system", 5600), configmap("values", "kcm-system", 1200)
    app, event = deployment("web", "team-a"), core_event("prod-eu-1")
    pods50 = object_list(
        "v1", "PodList", [pod(f"component-{i:02d}-5d8f7c9b6d-x{i:03d}", "kcm-system") for i in range(50)]
    )
    helm_storage = [secret(f"sh.helm.release.v1.prod-eu-1.v{i}", "kcm-system", 9000) for i in (1, 2)]
    cds = object_list("k0rdent.mirantis.com/v1beta1", "ClusterDeploymentList", [cd] * clusters)
    review = token_review()

    kinds: list[Kind] = []

    def add(label: str, actor: Actor, verb: str, object_ref: dict, per_hour: float, req=None, resp=None, **more):
        if per_hour > 0:
            kinds.append(
                request(label, actor, verb, object_ref, per_hour, request_body=req, response_body=resp, **more)
            )

    # fmt: off
    # Nodes: kubelet, kube-proxy, kube-router.
    node_status = ref("nodes", name="worker-1", subresource="status")
    node_lease_ref = ref("leases", "coordination.k8s.io", "kube-node-lease", "worker-1")
    pod_status = ref("pods", namespace="kcm-system", name=pod_name, subresource="status")
    token = ref("serviceaccounts", namespace="kcm-system", name="kcm-controller-manager", subresource="token")
    node_query = "fieldSelector=spec.nodeName%3Dworker-1&" + WATCH_QUERY
    add("kubelet GET own node", NODE, "get", ref("nodes", name="worker-1"), nodes * hour / NODE_STATUS_SECONDS, None,
        node_obj, query="resourceVersion=0&timeout=10s")
    add("kubelet PATCH nodes/status", NODE, "patch", node_status, nodes * hour / NODE_STATUS_SECONDS,
        node_status_patch(), node_obj)
    add("kubelet UPDATE node Lease", NODE, "update", node_lease_ref, nodes * hour / NODE_LEASE_SECONDS, node_lease,
        node_lease)
    add("kubelet PATCH pods/status", NODE, "patch", pod_status, nodes * 12, pod_status_patch(pod_name), system_pod)
    add("kubelet watches (pods, node, services, ...)", NODE, "watch", ref("pods"), nodes * 5 * watch, query=node_query)
    add("kubelet watches of pods' Secrets", NODE, "watch", ref("secrets", namespace="kcm-system"), pods * watch,
        query="fieldSelector=metadata.name%3Dkcm-webhook-cert&" + WATCH_QUERY)
    add("kubelet watches of pods' ConfigMaps", NODE, "watch", ref("configmaps", namespace="kcm-system"), pods * watch,
        query="fieldSelector=metadata.name%3Dkube-root-ca.crt&" + WATCH_QUERY)
    add("kubelet CREATE serviceaccounts/token", NODE, "create", token, pods * 60 / 48, token_request(),
        token_request(True), code=201)
    add("kubelet CREATE tokenreviews (webhook authn)", NODE, "create", ref("tokenreviews", "authentication.k8s.io"),
        nodes * 30, review, review, code=201)
    add("kubelet CREATE subjectaccessreviews (authz)", NODE, "create",
        ref("subjectaccessreviews", "authorization.k8s.io"), nodes * 12, subject_access_review(False),
        subject_access_review(True), code=201)
    add("kube-proxy watch services", KUBE_PROXY, "watch", ref("services"), nodes * watch)
    add(
        "kube-proxy watch endpointslices", KUBE_PROXY, "watch", ref("endpointslices", "discovery.k8s.io"), nodes * watch
    )
    add("kube-router watch pods", KUBE_ROUTER, "watch", ref("pods"), nodes * watch)
    add("kube-router watch networkpolicies", KUBE_ROUTER, "watch", ref("networkpolicies", "networking.k8s.io"),
        nodes * watch)

    # Leader election and the kube-apiserver identity leases.
    for name, actor, leaders in (("kube-controller-manager", KCM, 1), ("kube-scheduler", SCHEDULER, 1),
                                 ("k0s + autopilot", K0S, 2)):
        lease_ref = ref("leases", "coordination.k8s.io", "kube-system", name.split()[0])
        add(f"Lease UPDATE: {name} leader", actor, "update", lease_ref, leaders * hour / LEADER_RETRY_SECONDS,
            leader_lease, leader_lease)
        add(f"Lease GET: {name} standbys", actor, "get", lease_ref, leaders * standbys * hour / LEADER_RETRY_SECONDS,
            None, leader_lease)
    for name, actor, count in (("k0rdent", K0RDENT, 1), ("CAPI + providers", CAPI, 9), ("Flux", FLUX_HELM, 3),
                               ("Sveltos", SVELTOS, 7), ("cert-manager", CERT_MANAGER, 2)):
        lease_ref = ref("leases", "coordination.k8s.io", "kcm-system", name.split()[0].lower() + "-leader-election")
        add(f"Lease UPDATE: {name} leaders ({count})", actor, "update", lease_ref,
            count * hour / LEADER_RETRY_SECONDS, leader_lease, leader_lease)
    identity = ref("leases", "coordination.k8s.io", "kube-system", "apiserver-" + uid("a")[:26])
    add("Lease UPDATE: kube-apiserver identity", APISERVER, "update", identity,
        controllers * hour / APISERVER_LEASE_SECONDS, leader_lease, leader_lease)

    # Controllers' informers: a watch (and now and then a list) per watched type.
    for owner, actor, group, resource, count in (
        ("kube-controller-manager", KCM, "", "pods", 25),
        ("kube-controller-manager", KCM, "apps", "deployments", 25),
        ("kube-controller-manager GC", KCM, "cluster.x-k8s.io", "machines", 104),
        ("kube-controller-manager GC", KCM, "cert-manager.io", "certificates", 16),
        ("kube-scheduler", SCHEDULER, "", "pods", 6 * controllers),
        ("kube-scheduler", SCHEDULER, "storage.k8s.io", "csinodes", 6 * controllers),
        ("k0rdent", K0RDENT, "k0rdent.mirantis.com", "clusterdeployments", 20),
        ("k0rdent", K0RDENT, "", "secrets", 5),
        ("CAPI + providers", CAPI, "cluster.x-k8s.io", "machines", 100),
        ("CAPI + providers", CAPI, "", "secrets", 10),
        ("Flux", FLUX_SOURCE, "source.toolkit.fluxcd.io", "helmcharts", 10),
        ("Flux", FLUX_HELM, "", "configmaps", 4),
        ("Sveltos", SVELTOS, "config.projectsveltos.io", "clustersummaries", 40),
        ("Sveltos", SVELTOS, "", "configmaps", 6),
        ("cert-manager", CERT_MANAGER, "cert-manager.io", "certificates", 12),
        ("cert-manager", CERT_MANAGER, "", "secrets", 6),
    ):
        what = f"{owner} ({group or 'core'}, {count} types)"
        add("watch: " + what, actor, "watch", ref(resource, group), count * watch)
        add("list: " + what, actor, "list", ref(resource, group), count * RELISTS_PER_HOUR)

    # Controllers' reconciles.
    hr_status = ref("helmreleases", "helm.toolkit.fluxcd.io", "kcm-system", "prod-eu-1", "status", "v2")
    chart_status = ref("helmcharts", "source.toolkit.fluxcd.io", "kcm-system", "kcm-system-prod-eu-1", "status")
    machine_status = ref("machines", "cluster.x-k8s.io", "kcm-system", "prod-eu-1-md-7x2kq", "status", "v1beta1")
    aws_status = ref("awsmachines", "infrastructure.cluster.x-k8s.io", "kcm-system", "prod-eu-1-md-7x2kq", "status")
    cp_status = ref("k0smotroncontrolplanes", "controlplane.cluster.x-k8s.io", "kcm-system", "prod-eu-1-cp", "status")
    summary_status = ref("clustersummaries", "config.projectsveltos.io", "kcm-system", "capi-prod-eu-1", "status")
    report_ref = ref("classifierreports", "lib.projectsveltos.io", "kcm-system", "capi-prod-eu-1")
    cd_status = ref("clusterdeployments", "k0rdent.mirantis.com", "kcm-system", "prod-eu-1", "status", "v1beta1")
    mgmt_status = ref("managements", "k0rdent.mirantis.com", "", "kcm", "status", "v1beta1")
    kubeconfig_ref = ref("secrets", namespace="kcm-system", name="prod-eu-1-kubeconfig")
    helm_query = "labelSelector=name%3Dprod-eu-1%2Cowner%3Dhelm"
    add("Flux PATCH helmreleases/status", FLUX_HELM, "patch", hr_status, reconciles, status_patch(release), release)
    add("Flux PATCH helmcharts/status", FLUX_SOURCE, "patch", chart_status, reconciles, status_patch(release), release)
    add("Flux GET valuesFrom ConfigMap", FLUX_HELM, "get", ref("configmaps", namespace="kcm-system", name="values"),
        reconciles, None, values)
    add("Flux LIST Helm storage Secrets", FLUX_HELM, "list", ref("secrets", namespace="kcm-system"), reconciles, None,
        object_list("v1", "SecretList", helm_storage), query=helm_query)
    add("CAPI PATCH machines/status", CAPI, "patch", machine_status, clusters * 12, status_patch(machine), machine)
    add("CAPI PATCH awsmachines/status", CAPI, "patch", aws_status, clusters * 12, status_patch(aws_machine),
        aws_machine)
    add("CAPI PATCH k0smotroncontrolplanes/status", CAPI, "patch", cp_status, clusters * 6, status_patch(machine),
        machine)
    add("CAPI GET kubeconfig Secrets", CAPI, "get", kubeconfig_ref, clusters * 6, None, kubeconfig)
    add("Sveltos PATCH clustersummaries/status", SVELTOS, "patch", summary_status, clusters * 12, status_patch(summary),
        summary)
    add("Sveltos UPDATE classifierreports", SVELTOS, "update", report_ref, clusters * 12, report, report)
    add("Sveltos GET kubeconfig Secrets", SVELTOS, "get", kubeconfig_ref, clusters * 60, None, kubeconfig)
    add("k0rdent UPDATE clusterdeployments/status", K0RDENT, "update", cd_status, clusters * 12, cd, cd)
    add("k0rdent UPDATE managements/status", K0RDENT, "update", mgmt_status, 24, cd, cd)
    add("k0rdent GET Secrets", K0RDENT, "get", kubeconfig_ref, clusters * 12, None, kubeconfig)
    add("controller-manager UPDATE deployments/status", KCM_SA, "update",
        ref("deployments", "apps", "kcm-system", "kcm-controller-manager", "status"), 30, app, app)
    add("cert-manager UPDATE certificates/status", CERT_MANAGER, "update",
        ref("certificates", "cert-manager.io", "kcm-system", "kcm-webhook", "status"), 2, cd, cd)

    # Events.
    events = ref("events", namespace="kcm-system")
    add("CREATE events (core)", FLUX_HELM, "create", events, 300, event, event, code=201)
    add("PATCH events (core, repeats)", FLUX_HELM, "patch", {**events, "name": event["metadata"]["name"]}, 300,
        {"count": 7, "lastTimestamp": TS_OBJECT}, event)
    add("CREATE events (events.k8s.io)", SCHEDULER, "create", ref("events", "events.k8s.io", "kcm-system"), 60, event,
        event, code=201)

    # Non-resource URLs.
    for path in ("/healthz", "/readyz", "/livez"):
        kinds.append(non_resource(f"probe GET {path}", ANONYMOUS, path, controllers * hour / PROBE_SECONDS))
    kinds.append(
        non_resource("Prometheus GET /metrics", PROMETHEUS, "/metrics", controllers * hour / METRICS_SCRAPE_SECONDS)
    )
    kinds.append(non_resource("API discovery GET /apis/<g>/<v>", K0RDENT, "/apis/k0rdent.mirantis.com/v1beta1", 600))

    # Operators (kubectl).
    web = ref("deployments", "apps", "team-a", "web")
    exec_ref = ref("pods", namespace="kcm-system", name=pod_name, subresource="exec")
    exec_query = "command=sh&container=manager&stdin=true&stdout=true&tty=true"
    add("kubectl get pods -A (LIST 50 pods)", OPERATOR, "list", ref("pods"), 10, None, pods50, query="limit=500")
    add("kubectl describe pod (GET)", OPERATOR, "get", ref("pods", namespace="kcm-system", name=pod_name), 4, None,
        system_pod)
    add("kubectl describe pod (LIST events)", OPERATOR, "list", events, 4, None,
        object_list("v1", "EventList", [core_event(f"web-{i}") for i in range(6)]))
    add("kubectl get clusterdeployments -A", OPERATOR, "list",
        ref("clusterdeployments", "k0rdent.mirantis.com", version="v1beta1"), 6, None, cds)
    add("kubectl exec (pods/exec)", OPERATOR, "create", exec_ref, 1, long_running=True, query=exec_query)
    add("kubectl apply Deployment (GET)", OPERATOR, "get", web, 2, None, app)
    add("kubectl apply Deployment (PATCH)", OPERATOR, "patch", web, 2, apply_patch("web", "team-a"), app,
        query="fieldManager=kubectl-client-side-apply&fieldValidation=Strict")
    add("kubectl delete Deployment", OPERATOR, "delete", web, 1, DELETE_OPTIONS, app)
    # fmt: on
    return kinds


# --------------------------------------------------------------------------------------------------------------
# Estimating


@dataclass
class Estimate:
    events: float
    bytes: float
    by_kind: dict[str, float]
    levels: dict[str, str]
    evaluations_per_second: float


def rule_omits_managed_fields(policy: dict, rule_index: Optional[int]) -> bool:
    """kube-apiserver: a rule's omitManagedFields, when set, overrides the policy's."""
    policy_level = bool(policy.get("omitManagedFields"))
    if rule_index is None:
        return policy_level
    value = policy["rules"][rule_index].get("omitManagedFields")
    return policy_level if value is None else bool(value)


def estimate(compile_policy: Any, policy: dict, kinds: list[Kind], timing_rounds: int) -> Estimate:
    compiled = compile_policy(policy)
    sizes: dict[tuple[int, str, str, bool], int] = {}
    total_events = total_bytes = 0.0
    by_kind: dict[str, float] = {}
    levels: dict[str, str] = {}
    for index, kind in enumerate(kinds):
        outcome = compiled.evaluate(kind.engine_event())
        level = outcome["level"]
        levels[kind.label] = level
        if level == "None":
            by_kind[kind.label] = 0.0
            continue
        omit_mf = rule_omits_managed_fields(policy, outcome["rule_index"])
        stages = [
            stage
            for stage in (LONG_STAGES if kind.long_running else SHORT_STAGES)
            if stage not in outcome["omit_stages"]
        ]
        per_request = 0
        for stage in stages:
            key = (index, level, stage, omit_mf)
            if key not in sizes:
                sizes[key] = size(kind.audit_event(level, stage, omit_mf)) + 1  # one JSON object per line
            per_request += sizes[key]
        total_events += kind.per_hour * len(stages)
        by_kind[kind.label] = kind.per_hour * per_request
        total_bytes += by_kind[kind.label]
    events = [kind.engine_event() for kind in kinds]
    start = time.perf_counter()
    for _unused in range(timing_rounds):
        for event in events:
            compiled.evaluate(event)
    rate = timing_rounds * len(events) / (time.perf_counter() - start)
    return Estimate(total_events, total_bytes, by_kind, levels, rate)


def history(budget_mib: float, mib_per_hour: float, maxage_days: int) -> str:
    """How far back a log budget reaches: budget / rate, capped at maxage (rotated files older than that go)."""
    held = budget_mib / mib_per_hour if mib_per_hour > 0 else float("inf")
    if held >= maxage_days * 24:
        return f"{maxage_days * 24:,} h (maxage)"
    return f"{held:,.1f} h"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=3, help="k0s controller nodes (default 3)")
    parser.add_argument("--workers", type=int, default=3, help="k0s worker nodes (default 3)")
    parser.add_argument("--controller-kubelets", action="store_true", help="controllers run kubelet too")
    parser.add_argument("--child-clusters", type=int, default=5, help="ClusterDeployments managed (default 5)")
    parser.add_argument("--timing-rounds", type=int, default=2000, help="engine timing: evaluations of each kind")
    options = parser.parse_args()
    if options.controllers < 1 or options.workers < 0 or options.child_clusters < 0 or options.timing_rounds < 1:
        parser.error("need at least 1 controller and 1 timing round, and no negative counts")

    sys.path.insert(0, str(collections_root()))
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_findings import policy_findings
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import compile_valid_policy

    role_vars = REPO / "roles" / "k0s_audit" / "vars" / "main"
    baseline_rules = yaml.safe_load((role_vars / "baseline.yml").read_text())["_k0s_audit_baseline_rules"]
    profiles = yaml.safe_load((role_vars / "internal.yml").read_text())["_k0s_audit_profiles"]
    header = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}
    baseline = {**header, "rules": merge_rules(baseline_rules)}
    rule_names = [rule["name"] for rule in baseline_rules]  # merge_rules keeps the order; nothing added or dropped
    policies = {
        "(a) all Metadata": {**header, "rules": [{"level": "Metadata"}]},
        "(b) k0rdent baseline": baseline,
        "(c) baseline + omitManagedFields": {**baseline, "omitManagedFields": True},
    }
    cis_findings = [item for item in policy_findings(baseline) if item["category"] == "cis"]

    kinds = request_mix(options.controllers, options.workers, options.controller_kubelets, options.child_clusters)
    nodes = options.workers + (options.controllers if options.controller_kubelets else 0)
    print(
        f"k0rdent management cluster: controllers {options.controllers}, workers {options.workers}, kubelet nodes "
        f"{nodes}, child clusters {options.child_clusters}; {len(kinds)} kinds of request, "
        f"{sum(kind.per_hour for kind in kinds):,.0f} requests/h"
    )
    started = time.perf_counter()
    results = {
        name: estimate(compile_valid_policy, policy, kinds, options.timing_rounds) for name, policy in policies.items()
    }
    engine_seconds = time.perf_counter() - started

    compiled_base = compile_valid_policy(baseline)
    width = max(len(kind.label) for kind in kinds)
    print("\nRequest mix: bytes of one ResponseComplete event per level (compact JSON + newline); LR: long-running")
    columns = f"{'req/h':>8} LR {'Metadata':>8} {'Request':>8} {'ReqResp':>8}  baseline: level (rule)"
    print(f"{'kind of request':<{width}} {columns}")
    for kind in kinds:
        outcome = compiled_base.evaluate(kind.engine_event())
        rule = rule_names[outcome["rule_index"]] if outcome["rule_index"] is not None else "no rule"
        widths = [size(kind.audit_event(level, "ResponseComplete", False)) + 1 for level in LEVELS]
        print(
            f"{kind.label:<{width}} {kind.per_hour:>8,.0f} {'y' if kind.long_running else ' ':>2} "
            f"{widths[0]:>8,} {widths[1]:>8,} {widths[2]:>8,}  {outcome['level']} ({rule})"
        )

    base = results["(b) k0rdent baseline"]
    print("\nVolume per policy (MiB = 2^20 bytes, the unit of --audit-log-maxsize)")
    print(f"{'policy':<34} {'events/h':>10} {'MiB/h':>8} {'GiB/day':>8} {'bytes/event':>11} {'engine evals/s':>15}")
    for name, result in [*results.items(), ("(d) cis profile: same policy as (b)", base)]:
        print(
            f"{name:<34} {result.events:>10,.0f} {result.bytes / MIB:>8.2f} {result.bytes * 24 / 1024**3:>8.2f} "
            f"{result.bytes / max(result.events, 1):>11,.0f} {result.evaluations_per_second:>15,.0f}"
        )

    for name, result in results.items():
        print(f"\nTop 5 by bytes, {name}:")
        for label, value in sorted(result.by_kind.items(), key=lambda item: (-item[1], item[0]))[:5]:
            share = 100 * value / result.bytes if result.bytes else 0.0
            print(f"  {label:<{width}} {value / MIB:>7.2f} MiB/h {share:>5.1f} %  {result.levels[label]}")

    print(
        f"\n(d) the cis profile renders the same policy as (b) (CIS 3.2.2 findings on the baseline: "
        f"{len(cis_findings) or 'none'}), so the same events; it keeps more of them:"
    )
    print(f"{'profile':<8} {'maxsize':>7} {'maxbackup':>9} {'maxage':>6} {'disk':>8}   history at (a) / (b) / (c)")
    for profile in ("k0rdent", "cis"):
        values = profiles[profile]
        budget = values["maxsize"] * (values["maxbackup"] + 1)
        held = " / ".join(history(budget, result.bytes / MIB, values["maxage"]) for result in results.values())
        print(
            f"{profile:<8} {values['maxsize']:>4} MB {values['maxbackup']:>9} {values['maxage']:>4} d "
            f"{budget:>5,} MB   {held}"
        )
    print("  disk = maxsize * (maxbackup + 1): the live file and maxbackup rotated ones (right after a rotation only")
    print("  maxsize * maxbackup is on disk); files older than maxage days are removed whatever the budget.")

    print("\nModelled bodies (compact JSON bytes; managedFields is what omitManagedFields removes)")
    pod_name = "kcm-controller-manager-5d8f7c9b6d-x2x7q"
    pods = [pod(f"component-{index:02d}-5d8f7c9b6d-x{index:03d}", "kcm-system") for index in range(50)]
    bodies = {
        "Lease (leader election)": lease("kcm-controller-manager-leader", "kcm-system", pod_name, "manager"),
        "Lease (kube-node-lease)": lease("worker-1", "kube-node-lease", "worker-1", "kubelet"),
        "Node status patch (kubelet)": node_status_patch(),
        "Node": node("worker-1"),
        "Pod": pod(pod_name, "kcm-system"),
        "Pod status patch (kubelet)": pod_status_patch(pod_name),
        "Deployment (kubectl apply)": deployment("web", "team-a"),
        "PodList, 50 pods": object_list("v1", "PodList", pods),
        "HelmRelease (Flux)": flux_helm_release("prod-eu-1"),
        "ClusterDeployment (k0rdent)": cluster_deployment("prod-eu-1"),
        "Machine (CAPI)": capi_object("Machine", "cluster.x-k8s.io/v1beta1", "prod-eu-1-md-7x2kq", 6),
        "ClusterSummary (Sveltos)": sveltos_object("ClusterSummary", "config.projectsveltos.io/v1beta1", "x"),
        "Secret (kubeconfig)": secret("prod-eu-1-kubeconfig", "kcm-system", 5600),
    }
    for name, body in bodies.items():
        total = size(body)
        print(f"  {name:<30} {total:>8,} bytes, managedFields {total - size(without_managed_fields(body)):>7,}")
    print(
        f"\nEngine: {len(kinds)} kinds x {len(policies)} policies, each evaluated once for the estimate and "
        f"{options.timing_rounds:,} times for evals/s; {engine_seconds:.2f} s in estimate()"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
