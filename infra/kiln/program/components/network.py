"""Network: a new VPC with public subnets for the ALB and private ones for instances, or
the ids of an existing VPC.

Private subnets get a route table with no default route: a baked image downloads nothing
at boot, so there is no NAT gateway to pay for and no egress path for patches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_aws as aws

from kiln.model import naming
from kiln.model.stack import ExistingVpc
from kiln.model.stack import Network as NetworkSettings
from kiln.model.topology import subnet_cidrs


@dataclass(frozen=True)
class NetworkArgs:
    network: NetworkSettings
    tags: dict[str, str]


def _pick(index: int, names: list[str]) -> str:
    return names[index]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiln:network:Network", name, None, opts)
        if isinstance(args.network, ExistingVpc):
            self.vpc_id = pulumi.Output.from_input(args.network.vpc_id)
            self.public_subnet_ids = [pulumi.Output.from_input(s)
                                      for s in args.network.public_subnet_ids]
            self.private_subnet_ids = [pulumi.Output.from_input(s)
                                       for s in args.network.private_subnet_ids]
        else:
            self._create(name, args)
        self.register_outputs({"vpcId": self.vpc_id,
                               "publicSubnetIds": self.public_subnet_ids,
                               "privateSubnetIds": self.private_subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        net = args.network
        assert not isinstance(net, ExistingVpc)
        here = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        vpc = aws.ec2.Vpc(naming.child(name, "vpc"), cidr_block=net.cidr,
                          enable_dns_hostnames=True, enable_dns_support=True,
                          tags=args.tags, opts=here)
        igw = aws.ec2.InternetGateway(naming.child(name, "igw"), vpc_id=vpc.id,
                                      tags=args.tags, opts=here)
        public_rt = aws.ec2.RouteTable(
            naming.child(name, "public-rt"), vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**args.tags, naming.TAG_ROLE: naming.ROLE_PUBLIC}, opts=here)
        # No routes beyond the VPC's local one: instances have no path to the internet.
        private_rt = aws.ec2.RouteTable(
            naming.child(name, "private-rt"), vpc_id=vpc.id,
            tags={**args.tags, naming.TAG_ROLE: naming.ROLE_PRIVATE}, opts=here)
        public_cidrs, private_cidrs = subnet_cidrs(net.cidr, net.az_count)
        self.public_subnet_ids = []
        self.private_subnet_ids = []
        for index in range(net.az_count):
            zone = zones.names.apply(partial(_pick, index))
            for role, cidrs, table, ids in (
                    (naming.ROLE_PUBLIC, public_cidrs, public_rt, self.public_subnet_ids),
                    (naming.ROLE_PRIVATE, private_cidrs, private_rt, self.private_subnet_ids)):
                subnet = aws.ec2.Subnet(
                    naming.child(name, role, str(index)), vpc_id=vpc.id,
                    cidr_block=cidrs[index], availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={**args.tags, naming.TAG_ROLE: role}, opts=here)
                aws.ec2.RouteTableAssociation(
                    naming.child(name, role, str(index), "rta"), subnet_id=subnet.id,
                    route_table_id=table.id, opts=here)
                ids.append(subnet.id)
        self.vpc_id = vpc.id
