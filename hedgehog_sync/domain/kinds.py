"""The Hedgehog resource kinds hedgehog-sync knows (docs/contracts.md#hedgehog-resources)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceKind:
    """One custom resource kind served by a Hedgehog fabric's API server."""

    group: str
    version: str
    kind: str
    plural: str
    # False for objects the fabric controller generates: never expected in Git.
    authored: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


WIRING = "wiring.githedgehog.com"
VPC = "vpc.githedgehog.com"
AGENT = "agent.githedgehog.com"
DHCP = "dhcp.githedgehog.com"
GATEWAY = "gateway.githedgehog.com"
GWINT = "gwint.githedgehog.com"

KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(WIRING, "v1beta1", "Switch", "switches"),
    ResourceKind(WIRING, "v1beta1", "Server", "servers"),
    ResourceKind(WIRING, "v1beta1", "Connection", "connections"),
    ResourceKind(WIRING, "v1beta1", "SwitchGroup", "switchgroups"),
    ResourceKind(WIRING, "v1beta1", "VLANNamespace", "vlannamespaces"),
    # Authored, but the controller also installs built-in profiles (see is_controller_generated).
    ResourceKind(WIRING, "v1beta1", "SwitchProfile", "switchprofiles"),
    ResourceKind(WIRING, "v1beta1", "ServerProfile", "serverprofiles"),
    ResourceKind(VPC, "v1beta1", "VPC", "vpcs"),
    ResourceKind(VPC, "v1beta1", "VPCAttachment", "vpcattachments"),
    ResourceKind(VPC, "v1beta1", "VPCPeering", "vpcpeerings"),
    ResourceKind(VPC, "v1beta1", "IPv4Namespace", "ipv4namespaces"),
    ResourceKind(VPC, "v1beta1", "External", "externals"),
    ResourceKind(VPC, "v1beta1", "ExternalAttachment", "externalattachments"),
    ResourceKind(VPC, "v1beta1", "ExternalPeering", "externalpeerings"),
    ResourceKind(AGENT, "v1beta1", "Agent", "agents", authored=False),
    ResourceKind(AGENT, "v1beta1", "Catalog", "catalogs", authored=False),
    ResourceKind(DHCP, "v1beta1", "DHCPSubnet", "dhcpsubnets", authored=False),
    ResourceKind(GATEWAY, "v1alpha1", "Gateway", "gateways"),
    ResourceKind(GATEWAY, "v1alpha1", "GatewayGroup", "gatewaygroups"),
    ResourceKind(GATEWAY, "v1alpha1", "GatewayPeering", "gatewaypeerings"),
    ResourceKind(GATEWAY, "v1alpha1", "VPCInfo", "vpcinfos", authored=False),
    ResourceKind(GWINT, "v1alpha1", "GatewayAgent", "gatewayagents", authored=False),
)

HEDGEHOG_GROUPS: frozenset[str] = frozenset(k.group for k in KINDS)

_BY_GROUP_KIND: dict[tuple[str, str], ResourceKind] = {(k.group, k.kind): k for k in KINDS}


def split_api_version(api_version: str) -> tuple[str, str]:
    """'vpc.githedgehog.com/v1beta1' -> ('vpc.githedgehog.com', 'v1beta1'); core 'v1' -> ('', 'v1')."""
    group, _, version = api_version.rpartition("/")
    return group, version


def kind_for(group: str, kind: str) -> ResourceKind | None:
    """The known kind for (group, kind), whatever version was asked for; None if not Hedgehog's."""
    return _BY_GROUP_KIND.get((group, kind))


def is_hedgehog_group(group: str) -> bool:
    return group in HEDGEHOG_GROUPS or group.endswith(".githedgehog.com")
