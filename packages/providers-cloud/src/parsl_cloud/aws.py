"""AWSProvider: each block is one EC2 instance whose user data starts the worker pool.

On first use the provider sets up, or reuses from its state file, the network Parsl's
AWSProvider uses: a VPC (10.0.0.0/16) with an internet gateway, a route table routing
0.0.0.0/0 through it, one public subnet per available zone and a security group open
within the VPC (and to SSH and ICMP from anywhere). ``submit`` launches an on-demand
instance, or a one-time spot instance when ``spot_max_bid`` is set, whose user data runs
``worker_init`` then the launcher-wrapped worker command, bounded by ``walltime``, and
then halts the instance unless ``linger`` is set (instances are launched with shutdown
behaviour "terminate", so a halted block stops costing money).

``status`` asks EC2 only about this provider's own instances (an ``instance-id`` filter,
so unrelated or vanished instances never make a poll fail), maps EC2 states to JobState
and terminates a block that outlives its walltime (reported TIMEOUT). ``cancel``
terminates instances, or keeps them with ``linger=True``. :meth:`AWSProvider.teardown`
terminates every instance the provider launched and deletes the network it created, in
an order EC2 accepts (the gateway is detached before it is deleted).

Every call is bounded by ``api_timeout`` (connect and read timeouts, one retry), and
every boto3 error becomes a failed block or a logged poll failure carrying AWS's own
error code and message. boto3 is imported when a provider is constructed, never by
``import parsl``.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter, ConfigurationError
from parsl.jobs.states import JobState, JobStatus
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SingleNodeLauncher
from parsl.providers.base import ExecutionProvider, validate_block_parameters
from parsl.providers.errors import SubmitException
from parsl_cloud._common import block_of, check_api_timeout, walltime_seconds

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

__all__ = ["AWSError", "AWSProvider"]

_EC2_STATES = {
    "pending": JobState.PENDING,
    "running": JobState.RUNNING,
    "shutting-down": JobState.COMPLETED,
    "terminated": JobState.COMPLETED,
    "stopping": JobState.COMPLETED,
    "stopped": JobState.COMPLETED,
}

#: Tag on every resource the provider creates, naming the provider's run.
OWNER_TAG = "parsl-provider"
VPC_CIDR = "10.0.0.0/16"


class AWSError(ConfigurationError):
    """An EC2 call failed; the message names the call and carries AWS's own words."""


class _Instance:
    """What the provider knows about one block's instance."""

    __slots__ = ("cancelled", "instance_id", "job_name", "started", "status")

    def __init__(self, instance_id: str, job_name: str) -> None:
        self.instance_id = instance_id
        self.job_name = job_name
        self.started = time.monotonic()
        self.cancelled = False
        self.status = JobStatus(JobState.PENDING)


class AWSProvider(ExecutionProvider):
    """Run blocks on EC2 instances, with the parameters of Parsl's AWSProvider.

    Parameters
    ----------
    image_id:
        The AMI of the instances; it must have Python and Parsl's worker installed (or
        install them in ``worker_init``).
    key_name:
        Name of the EC2 key pair installed on the instances (for SSH, to debug).
    init_blocks, min_blocks, max_blocks, nodes_per_block, parallelism:
        Block counts and scaling aggressiveness. A block is one instance; the launcher
        starts ``nodes_per_block`` copies of the worker command on it.
    worker_init:
        Shell commands run by the instance's user data before the worker command.
    instance_type, region:
        EC2 instance type and region.
    spot_max_bid:
        Above 0: launch one-time spot instances with this maximum hourly price (USD).
    key_file:
        JSON file with ``AWSAccessKeyId`` and ``AWSSecretKey`` (or boto3's
        ``aws_access_key_id``/``aws_secret_access_key``); else ``profile`` from
        ``~/.aws/config``; else the environment. No credentials at all is a
        ConfigurationError at construction.
    iam_instance_profile_arn:
        Instance profile (role) the instances are launched with; empty for none.
    state_file:
        JSON file recording the network and instances, so a later run reuses the
        network; default ``.ec2_<label>.json`` in the working folder.
    walltime:
        ``HH:MM:SS`` after which a block's instance is terminated (reported TIMEOUT).
    linger:
        Keep instances running when their workers end or their block is cancelled; the
        user is then responsible for terminating them.
    launcher:
        Wraps the worker command; default ``SingleNodeLauncher()``.
    api_timeout:
        Seconds any single EC2 call may take (connect and read), retried once.
    """

    @validate_init
    def __init__(self,
                 image_id: str,
                 key_name: str,
                 init_blocks: int = 1,
                 min_blocks: int = 0,
                 max_blocks: int = 10,
                 nodes_per_block: int = 1,
                 parallelism: Union[int, float] = 1,
                 worker_init: str = "",
                 instance_type: str = "t2.small",
                 region: str = "us-east-2",
                 spot_max_bid: Union[int, float] = 0,
                 key_file: Optional[str] = None,
                 profile: Optional[str] = None,
                 iam_instance_profile_arn: str = "",
                 state_file: Optional[str] = None,
                 walltime: str = "01:00:00",
                 linger: bool = False,
                 launcher: Optional[Launcher] = None,
                 api_timeout: Union[int, float] = 30) -> None:
        owner = type(self).__name__
        validate_block_parameters(owner, nodes_per_block, init_blocks, min_blocks,
                                  max_blocks, parallelism, 1)
        for name, value in (("image_id", image_id), ("instance_type", instance_type),
                            ("region", region)):
            if not value.strip():
                raise BadParameter(owner, name, value, "a non-empty string")
        if spot_max_bid < 0:
            raise BadParameter(owner, "spot_max_bid", spot_max_bid, "a price >= 0 (0: on-demand)")
        self.walltime_seconds = walltime_seconds(owner, walltime)
        check_api_timeout(owner, api_timeout)
        self.label = "ec2"
        self.image_id = image_id
        self.key_name = key_name
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.nodes_per_block = nodes_per_block
        self.parallelism = parallelism
        self.worker_init = worker_init
        self.instance_type = instance_type
        self.region = region
        self.spot_max_bid = spot_max_bid
        self.key_file = key_file
        self.profile = profile
        self.iam_instance_profile_arn = iam_instance_profile_arn
        self.state_file = state_file if state_file is not None else f".ec2_{self.label}.json"
        self.walltime = walltime
        self.linger = linger
        self.launcher: Launcher = launcher if launcher is not None else SingleNodeLauncher()
        self.api_timeout = api_timeout
        self.resources: Dict[str, Dict[str, Any]] = {}
        self.vpc_id: Optional[str] = None
        self.sg_id: Optional[str] = None
        self.sn_ids: List[str] = []
        self.internet_gateway: Optional[str] = None
        self.route_table: Optional[str] = None
        self._instances: Dict[str, _Instance] = {}
        self._next_subnet = 0
        self._network_lock = threading.Lock()
        self._lock = threading.Lock()
        self._status_polling_interval = 60
        self.session = self._create_session()
        self._client: Any = None

    @property
    def status_polling_interval(self) -> int:
        """Seconds between status polls (60; settable)."""
        return self._status_polling_interval

    @status_polling_interval.setter
    def status_polling_interval(self, seconds: int) -> None:
        self._status_polling_interval = seconds

    # -- credentials and client ------------------------------------------------------------

    def _create_session(self) -> boto3.session.Session:
        """A boto3 session from key_file, profile or the environment, with credentials.

        Raises BadParameter for an unreadable key file and ConfigurationError when no
        credentials can be found, naming the three ways to give them.
        """
        import boto3
        import botocore.exceptions

        owner = type(self).__name__
        if self.key_file is not None:
            keys = _read_key_file(owner, self.key_file)
            session = boto3.session.Session(region_name=self.region, **keys)
        elif self.profile is not None:
            try:
                session = boto3.session.Session(profile_name=self.profile,
                                                region_name=self.region)
            except botocore.exceptions.ProfileNotFound as e:
                raise BadParameter(owner, "profile", self.profile,
                                   f"a profile of the AWS config files ({e})") from None
        else:
            session = boto3.session.Session(region_name=self.region)
        if session.get_credentials() is None:
            raise ConfigurationError(
                f"{owner}: no AWS credentials found. Give key_file= (a JSON file with "
                "AWSAccessKeyId and AWSSecretKey), profile= (a profile of ~/.aws/config), "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.")
        return session

    @property
    def client(self) -> Any:
        """The EC2 client: bounded connect/read timeouts and a single retry."""
        if self._client is None:
            from botocore.config import Config as BotoConfig

            self._client = self.session.client(
                "ec2", config=BotoConfig(connect_timeout=self.api_timeout,
                                         read_timeout=self.api_timeout,
                                         retries={"total_max_attempts": 2, "mode": "standard"}))
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """Call EC2 ``operation``; raise AWSError with AWS's code and message on failure."""
        import botocore.exceptions

        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            raise AWSError(f"EC2 {operation} failed: {error.get('Code', '?')}: "
                           f"{error.get('Message', e)}") from e
        except botocore.exceptions.BotoCoreError as e:
            raise AWSError(f"EC2 {operation} failed: {type(e).__name__}: {e}") from e

    @staticmethod
    def _error_code(error: AWSError) -> str:
        cause = error.__cause__
        response = getattr(cause, "response", None)
        return str(response.get("Error", {}).get("Code", "")) if response else ""

    # -- network -----------------------------------------------------------------------------

    def _ensure_network(self) -> None:
        """Reuse the network of the state file if it still exists, else create one."""
        with self._network_lock:
            if self.vpc_id is not None:
                return
            if self._load_state_file():
                return
            self._create_network()
            self.write_state_file()

    def _load_state_file(self) -> bool:
        try:
            with open(self.state_file, encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as e:
            logger.warning("Ignoring unreadable AWS state file %s: %s", self.state_file, e)
            return False
        vpc_id = state.get("vpcID")
        try:
            found = self._call("describe_vpcs", Filters=[{"Name": "vpc-id",
                                                          "Values": [str(vpc_id)]}])["Vpcs"]
        except AWSError as e:
            logger.warning("Could not check VPC %s of state file %s: %s", vpc_id,
                           self.state_file, e)
            found = []
        if not found:
            logger.info("VPC %s of state file %s no longer exists; creating a new network",
                        vpc_id, self.state_file)
            return False
        self.vpc_id = vpc_id
        self.sg_id = state.get("sgID")
        self.sn_ids = list(state.get("snIDs") or [])
        self.internet_gateway = state.get("igwID")
        self.route_table = state.get("rtID")
        logger.info("Reusing VPC %s (subnets %s, security group %s) from state file %s",
                    self.vpc_id, self.sn_ids, self.sg_id, self.state_file)
        return True

    def _create_network(self) -> None:
        """VPC, gateway, route table, a subnet per available zone, security group.

        Everything is recorded as it is created, so a failure half-way deletes what was
        made before the error is raised.
        """
        tags = [{"Key": OWNER_TAG, "Value": self.label}, {"Key": "Name", "Value": "parsl"}]
        try:
            vpc = self._call("create_vpc", CidrBlock=VPC_CIDR, TagSpecifications=[
                {"ResourceType": "vpc", "Tags": tags}])["Vpc"]
            self.vpc_id = vpc["VpcId"]
            gateway = self._call("create_internet_gateway")["InternetGateway"]
            self.internet_gateway = gateway["InternetGatewayId"]
            self._call("attach_internet_gateway", InternetGatewayId=self.internet_gateway,
                       VpcId=self.vpc_id)
            table = self._call("create_route_table", VpcId=self.vpc_id)["RouteTable"]
            self.route_table = table["RouteTableId"]
            self._call("create_route", RouteTableId=self.route_table,
                       DestinationCidrBlock="0.0.0.0/0", GatewayId=self.internet_gateway)
            zones = self._call("describe_availability_zones")["AvailabilityZones"]
            for number, zone in enumerate(zones):
                if zone.get("State") != "available":
                    logger.info("Availability zone %s is %s; no subnet there",
                                zone.get("ZoneName"), zone.get("State"))
                    continue
                subnet = self._call("create_subnet", VpcId=self.vpc_id,
                                    CidrBlock=f"10.0.{16 * number}.0/20",
                                    AvailabilityZone=zone["ZoneName"])["Subnet"]
                self.sn_ids.append(subnet["SubnetId"])
                self._call("modify_subnet_attribute", SubnetId=subnet["SubnetId"],
                           MapPublicIpOnLaunch={"Value": True})
                self._call("associate_route_table", RouteTableId=self.route_table,
                           SubnetId=subnet["SubnetId"])
            if not self.sn_ids:
                raise AWSError(f"region {self.region} has no available zone for a subnet")
            group = self._call("create_security_group", VpcId=self.vpc_id,
                               GroupName=f"parsl-{self.vpc_id}",
                               Description="Parsl workers: open within the VPC")
            self.sg_id = group["GroupId"]
            inside = [{"CidrIp": VPC_CIDR}]
            anywhere = [{"CidrIp": "0.0.0.0/0"}]
            self._call("authorize_security_group_ingress", GroupId=self.sg_id, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": inside},
                {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "IpRanges": inside},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": anywhere},
                {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": anywhere}])
        except AWSError as e:
            logger.error("Could not create the EC2 network (%s); deleting what was created",
                         e)
            try:
                self._delete_network()
            except AWSError as cleanup_error:
                logger.error("Could not delete the partial network: %s", cleanup_error)
            raise
        logger.info("Created VPC %s with gateway %s, route table %s, subnets %s and security "
                    "group %s", self.vpc_id, self.internet_gateway, self.route_table,
                    self.sn_ids, self.sg_id)

    def write_state_file(self) -> None:
        """Record network and instance ids in ``state_file`` for later runs and teardown."""
        with self._lock:
            instances = sorted(self._instances)
        state = {"vpcID": self.vpc_id, "sgID": self.sg_id, "snIDs": self.sn_ids,
                 "igwID": self.internet_gateway, "rtID": self.route_table,
                 "instances": instances}
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(state, f, indent=2)
            os.replace(tmp, self.state_file)
        except OSError as e:
            logger.warning("Could not write AWS state file %s: %s", self.state_file, e)

    # -- submit ------------------------------------------------------------------------------

    def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.aws") -> str:
        """Launch one instance whose user data runs the block; return its instance id.

        Raises SubmitException carrying AWS's error code and message when the network
        cannot be set up or EC2 refuses the instance.
        """
        wrapped = self.launcher(command, tasks_per_node, self.nodes_per_block)
        user_data = self._user_data(job_name, wrapped)
        try:
            self._ensure_network()
            with self._lock:
                subnet = self.sn_ids[self._next_subnet % len(self.sn_ids)]
                self._next_subnet += 1
            request: Dict[str, Any] = {
                "ImageId": self.image_id, "InstanceType": self.instance_type,
                "KeyName": self.key_name, "MinCount": 1, "MaxCount": 1,
                "SubnetId": subnet, "SecurityGroupIds": [self.sg_id],
                "UserData": user_data,
                "InstanceInitiatedShutdownBehavior": "terminate",
                "ClientToken": uuid.uuid4().hex,
                "TagSpecifications": [{"ResourceType": "instance", "Tags": [
                    {"Key": "Name", "Value": job_name},
                    {"Key": OWNER_TAG, "Value": self.label}]}]}
            if self.iam_instance_profile_arn:
                request["IamInstanceProfile"] = {"Arn": self.iam_instance_profile_arn}
            if self.spot_max_bid > 0:
                request["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
                    "MaxPrice": str(self.spot_max_bid), "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "terminate"}}
            reply = self._call("run_instances", **request)
        except AWSError as e:
            logger.error("Could not launch an instance for %s (%s): %s", block_of(job_name),
                         job_name, e)
            raise SubmitException(job_name, str(e)) from e
        instance_id = str(reply["Instances"][0]["InstanceId"])
        record = _Instance(instance_id, job_name)
        with self._lock:
            self._instances[instance_id] = record
            self.resources[instance_id] = {"job_id": instance_id, "job_name": job_name,
                                           "status": record.status}
        self.write_state_file()
        logger.info("Launched %s instance %s for %s",
                    "spot" if self.spot_max_bid > 0 else "on-demand", instance_id,
                    block_of(job_name))
        return instance_id

    def _user_data(self, job_name: str, wrapped_command: str) -> str:
        """The instance's boot script: worker_init, the block bounded by walltime, halt."""
        lines = ["#!/bin/bash", f"# Parsl AWSProvider block {job_name}",
                 self.worker_init,
                 f"timeout --kill-after=60 {self.walltime_seconds} /bin/bash -c "
                 f"{shlex.quote(wrapped_command)}"]
        if not self.linger:
            lines.append("# The block is over: stop paying for the instance.")
            lines.append("shutdown -h now")
        return "\n".join(lines) + "\n"

    # -- status ------------------------------------------------------------------------------

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        """Each block's state from its instance, asking EC2 about these instances only.

        An instance EC2 no longer knows is MISSING; one past its walltime is terminated
        and reported TIMEOUT. When EC2 cannot be polled the last known states are kept
        and the failure is logged with the blocks concerned.
        """
        with self._lock:
            live = [self._instances[str(j)] for j in job_ids
                    if str(j) in self._instances and not self._instances[str(j)].status.terminal]
        if live:
            self._poll(live)
        with self._lock:
            return [self._instances[str(j)].status if str(j) in self._instances
                    else JobStatus(JobState.MISSING, f"AWSProvider knows no instance {j!r}")
                    for j in job_ids]

    def _poll(self, live: List[_Instance]) -> None:
        ids = [r.instance_id for r in live]
        try:
            pages = self._call("describe_instances",
                               Filters=[{"Name": "instance-id", "Values": ids}])
        except AWSError as e:
            logger.warning("Could not poll the instances of %s; keeping their last known "
                           "states: %s",
                           ", ".join(f"{block_of(r.job_name)} ({r.instance_id})" for r in live),
                           e)
            return
        found = {i["InstanceId"]: i for reservation in pages.get("Reservations", [])
                 for i in reservation.get("Instances", [])}
        overdue = []
        for record in live:
            instance = found.get(record.instance_id)
            if instance is None:
                new = JobStatus(JobState.MISSING,
                                f"EC2 no longer knows instance {record.instance_id}")
            else:
                new = self._instance_status(record, instance)
                if not new.terminal and self._past_walltime(record):
                    overdue.append(record)
            self._set_status(record, new)
        if overdue:
            self._end_overdue(overdue)

    def _instance_status(self, record: _Instance, instance: Dict[str, Any]) -> JobStatus:
        name = instance.get("State", {}).get("Name", "")
        state = _EC2_STATES.get(name, JobState.UNKNOWN)
        reason = instance.get("StateReason", {}).get("Message")
        message = f"instance {record.instance_id} is {name}"
        if reason:
            message += f" ({reason})"
        if state is JobState.COMPLETED and self._past_walltime(record):
            return JobStatus(JobState.TIMEOUT, f"{message}: the block reached its walltime "
                             f"{self.walltime}")
        return JobStatus(state, message if state is not JobState.RUNNING else None)

    def _past_walltime(self, record: _Instance) -> bool:
        return (self.walltime_seconds is not None
                and time.monotonic() - record.started >= self.walltime_seconds)

    def _end_overdue(self, overdue: List[_Instance]) -> None:
        ids = [r.instance_id for r in overdue]
        logger.info("Terminating instances %s: their blocks reached walltime %s", ids,
                    self.walltime)
        try:
            self._call("terminate_instances", InstanceIds=ids)
        except AWSError as e:
            logger.error("Could not terminate instances %s past their walltime: %s", ids, e)
            return
        for record in overdue:
            self._set_status(record, JobStatus(
                JobState.TIMEOUT, f"instance {record.instance_id} terminated: the block "
                f"reached its walltime {self.walltime}"))

    def _set_status(self, record: _Instance, new: JobStatus) -> None:
        with self._lock:
            if new != record.status:
                logger.info("Instance %s of %s is now %s", record.instance_id,
                            block_of(record.job_name), new)
            record.status = new
            self.resources[record.instance_id]["status"] = new

    # -- cancel and teardown -----------------------------------------------------------------

    def cancel(self, job_ids: List[Any]) -> List[bool]:
        """Terminate the instances (with ``linger``, keep them); True for each one handled.

        Instances EC2 no longer knows count as cancelled.
        """
        with self._lock:
            records = [self._instances.get(str(j)) for j in job_ids]
        known = [r for r in records if r is not None]
        accepted = set()
        if self.linger:
            for kept in known:
                logger.info("Not terminating instance %s of %s: linger=True keeps it",
                            kept.instance_id, block_of(kept.job_name))
            accepted = {r.instance_id for r in known}
        elif known:
            accepted = self._terminate([r.instance_id for r in known])
        results = []
        for job_id, record in zip(job_ids, records):
            if record is None:
                logger.warning("Asked to cancel unknown instance %r", job_id)
                results.append(False)
                continue
            ok = record.instance_id in accepted
            if ok and not record.status.terminal:
                record.cancelled = True
                text = ("kept running (linger=True)" if self.linger else "terminated")
                self._set_status(record, JobStatus(
                    JobState.CANCELLED, f"instance {record.instance_id} {text} by the provider"))
            results.append(ok)
        return results

    def _terminate(self, ids: List[str]) -> set[str]:
        """Terminate ``ids``; return those now terminating or already gone."""
        try:
            self._call("terminate_instances", InstanceIds=ids)
        except AWSError as e:
            if self._error_code(e) != "InvalidInstanceID.NotFound":
                logger.error("Could not terminate instances %s: %s", ids, e)
                return set()
            if len(ids) == 1:
                return set(ids)
            # One unknown id fails the whole call: terminate the others one by one.
            done: set[str] = set()
            for instance_id in ids:
                done |= self._terminate([instance_id])
            return done
        logger.info("Terminated instances %s", ids)
        return set(ids)

    def teardown(self) -> None:
        """Terminate every instance this provider launched and delete its network.

        Waits (bounded) for the instances to be gone, then deletes the security group,
        subnets, route table, internet gateway (detached first) and VPC, and removes the
        state file. Raises AWSError listing what could not be deleted.
        """
        with self._lock:
            ids = list(self._instances)
        if not self.vpc_id and os.path.exists(self.state_file):
            self._load_state_file()
        try:
            with open(self.state_file, encoding="utf-8") as f:
                ids = sorted(set(ids) | set(json.load(f).get("instances") or []))
        except (OSError, ValueError):
            pass
        if ids:
            self._terminate(ids)
            self._wait_terminated(ids)
        self._delete_network()
        try:
            os.unlink(self.state_file)
        except FileNotFoundError:
            pass

    def _wait_terminated(self, ids: List[str]) -> None:
        deadline = time.monotonic() + max(60.0, 4 * float(self.api_timeout))
        while time.monotonic() < deadline:
            try:
                reply = self._call("describe_instances",
                                   Filters=[{"Name": "instance-id", "Values": ids}])
            except AWSError as e:
                logger.warning("Could not check that instances %s ended: %s", ids, e)
                return
            states = [i["State"]["Name"] for r in reply.get("Reservations", [])
                      for i in r.get("Instances", [])]
            if all(s == "terminated" for s in states):
                return
            time.sleep(2)
        logger.warning("Instances %s did not all terminate within the teardown bound", ids)

    def _delete_network(self) -> None:
        failures = []
        steps: List[Any] = [("delete_security_group", {"GroupId": self.sg_id}, self.sg_id)]
        if self.route_table is not None:
            try:
                tables = self._call("describe_route_tables", Filters=[
                    {"Name": "route-table-id", "Values": [self.route_table]}])["RouteTables"]
            except AWSError as e:
                failures.append(str(e))
                tables = []
            steps += [("disassociate_route_table", {"AssociationId": a["RouteTableAssociationId"]},
                       a["RouteTableAssociationId"])
                      for t in tables for a in t.get("Associations", []) if not a.get("Main")]
        steps += [("delete_subnet", {"SubnetId": s}, s) for s in self.sn_ids]
        steps += [("delete_route_table", {"RouteTableId": self.route_table}, self.route_table),
                  ("detach_internet_gateway", {"InternetGatewayId": self.internet_gateway,
                                               "VpcId": self.vpc_id}, self.internet_gateway),
                  ("delete_internet_gateway", {"InternetGatewayId": self.internet_gateway},
                   self.internet_gateway),
                  ("delete_vpc", {"VpcId": self.vpc_id}, self.vpc_id)]
        for operation, kwargs, resource in steps:
            if resource is None or (operation == "detach_internet_gateway" and not self.vpc_id):
                continue
            try:
                self._call(operation, **kwargs)
            except AWSError as e:
                if self._error_code(e).endswith(".NotFound"):
                    continue
                logger.error("Teardown: %s", e)
                failures.append(str(e))
            else:
                logger.info("Teardown: %s %s", operation, resource)
        self.vpc_id = self.sg_id = self.internet_gateway = self.route_table = None
        self.sn_ids = []
        if failures:
            raise AWSError("AWSProvider teardown left resources behind: " + "; ".join(failures))


def _read_key_file(owner: str, path: str) -> Dict[str, str]:
    """boto3 session arguments from a key file; BadParameter naming what is wrong."""
    full = os.path.expandvars(os.path.expanduser(path))
    try:
        with open(full, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise BadParameter(owner, "key_file", path,
                           f"a readable JSON file with AWSAccessKeyId and AWSSecretKey ({e})"
                           ) from None
    except ValueError as e:
        raise BadParameter(owner, "key_file", path,
                           f"a JSON file with AWSAccessKeyId and AWSSecretKey (not JSON: {e})"
                           ) from None
    if not isinstance(data, dict):
        data = {}
    access = data.get("AWSAccessKeyId", data.get("aws_access_key_id"))
    secret = data.get("AWSSecretKey", data.get("aws_secret_access_key"))
    if not access or not secret:
        raise BadParameter(owner, "key_file", path,
                           "a JSON file with the keys AWSAccessKeyId and AWSSecretKey")
    keys = {"aws_access_key_id": str(access), "aws_secret_access_key": str(secret)}
    token = data.get("AWSSessionToken", data.get("aws_session_token"))
    if token:
        keys["aws_session_token"] = str(token)
    return keys
