"""AWSProvider against moto's EC2 server (a real HTTP endpoint on 127.0.0.1).

AWS cannot be reached from the test machines; moto implements the EC2 API but never
boots instances, so the ``ec2`` fixture's cloud-init stand-in runs each new instance's
user data as a local process (see ec2_standin) and ends the instance when it halts.
"""
from __future__ import annotations

import json
import time

import pytest

from parsl.errors import BadParameter, ConfigurationError
from parsl.jobs.states import JobState
from parsl.providers.errors import SubmitException
from parsl_cloud.aws import AWSError, AWSProvider

# Each test makes dozens of calls to moto's server, which take seconds on a busy machine.
pytestmark = pytest.mark.slow


def make_provider(ec2, **options):
    options.setdefault("image_id", ec2.IMAGE)
    options.setdefault("key_name", "parsl-test")
    # Generous: moto answers slowly on a loaded machine. Timeout tests set their own.
    options.setdefault("api_timeout", 60)
    return AWSProvider(**options)


def test_first_submission_creates_the_network_and_an_instance_in_it(ec2):
    provider = make_provider(ec2)

    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    [instance] = ec2.instances(instance_id=[instance_id])
    vpc = ec2.client.describe_vpcs(VpcIds=[provider.vpc_id])["Vpcs"][0]
    gateways = ec2.client.describe_internet_gateways(
        InternetGatewayIds=[provider.internet_gateway])["InternetGateways"]
    zones = ec2.client.describe_availability_zones()["AvailabilityZones"]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert gateways[0]["Attachments"][0]["VpcId"] == provider.vpc_id
    assert len(provider.sn_ids) == len([z for z in zones if z["State"] == "available"])
    assert instance["SubnetId"] in provider.sn_ids
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [provider.sg_id]
    assert instance["ImageId"] == ec2.IMAGE and instance["KeyName"] == "parsl-test"
    provider.teardown()


def test_network_routes_to_the_internet_and_is_open_within_the_vpc(ec2):
    provider = make_provider(ec2)
    provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    [table] = ec2.client.describe_route_tables(RouteTableIds=[provider.route_table])["RouteTables"]
    [group] = ec2.client.describe_security_groups(GroupIds=[provider.sg_id])["SecurityGroups"]

    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": provider.internet_gateway} in [
        {k: r.get(k) for k in ("DestinationCidrBlock", "GatewayId")} for r in table["Routes"]]
    assert sorted(a["SubnetId"] for a in table["Associations"] if not a.get("Main")) == sorted(
        provider.sn_ids)
    rules = {(r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
              tuple(x["CidrIp"] for x in r["IpRanges"])) for r in group["IpPermissions"]}
    assert ("tcp", 0, 65535, ("10.0.0.0/16",)) in rules
    assert ("tcp", 22, 22, ("0.0.0.0/0",)) in rules
    provider.teardown()


def test_user_data_runs_worker_init_then_the_command_and_halts_the_instance(ec2, tmp_path,
                                                                            wait):
    provider = make_provider(ec2, worker_init=f"echo init > {tmp_path}/a")
    instance_id = provider.submit(f"cat {tmp_path}/a > {tmp_path}/b; echo ran >> {tmp_path}/b",
                                  1, "parsl.htex.block-0.1")

    wait(lambda: ec2.state(instance_id) == "terminated", timeout=60,
         what="the instance to halt and terminate after its command")
    status = provider.status([instance_id])[0]

    assert (tmp_path / "b").read_text() == "init\nran\n"
    assert status.state is JobState.COMPLETED
    provider.teardown()


def test_status_looks_only_at_own_instances_despite_a_foreign_one(ec2):
    foreign = ec2.client.run_instances(ImageId=ec2.IMAGE, MinCount=1, MaxCount=1)
    foreign_id = foreign["Instances"][0]["InstanceId"]
    provider = make_provider(ec2)
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    assert provider.status([instance_id])[0].state is JobState.RUNNING
    assert provider.status([foreign_id])[0].state is JobState.MISSING
    provider.teardown()

    assert ec2.state(foreign_id) == "running"
    assert ec2.state(instance_id) == "terminated"


def test_instance_terminated_outside_parsl_is_completed_and_one_gone_is_missing(ec2):
    provider = make_provider(ec2)
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    ec2.client.terminate_instances(InstanceIds=[instance_id])
    status = provider.status([instance_id])[0]

    assert status.state is JobState.COMPLETED
    assert "terminated" in str(status.message)
    provider.teardown()


def test_spot_bid_launches_a_spot_instance(ec2):
    provider = make_provider(ec2, spot_max_bid=0.05)

    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    [instance] = ec2.instances(instance_id=[instance_id])
    assert instance.get("InstanceLifecycle") == "spot"
    provider.teardown()


def test_on_demand_by_default(ec2):
    provider = make_provider(ec2)

    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    [instance] = ec2.instances(instance_id=[instance_id])
    assert instance.get("InstanceLifecycle") is None
    provider.teardown()


def test_second_provider_reuses_the_network_of_the_state_file(ec2, tmp_path):
    state = tmp_path / "state.json"
    first = make_provider(ec2, state_file=str(state))
    first.submit("sleep 60", 1, "parsl.htex.block-0.1")
    vpcs_before = ec2.client.describe_vpcs()["Vpcs"]

    second = make_provider(ec2, state_file=str(state))
    instance_id = second.submit("sleep 60", 1, "parsl.htex.block-1.1")

    assert second.vpc_id == first.vpc_id and second.sg_id == first.sg_id
    assert ec2.client.describe_vpcs()["Vpcs"] == vpcs_before
    assert instance_id in json.loads(state.read_text())["instances"]
    second.teardown()


def test_state_file_naming_a_deleted_vpc_gets_a_new_network(ec2, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"vpcID": "vpc-00000000deadbeef", "sgID": "sg-0",
                                 "snIDs": ["subnet-0"], "instances": []}))
    provider = make_provider(ec2, state_file=str(state))

    provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    assert provider.vpc_id != "vpc-00000000deadbeef"
    assert json.loads(state.read_text())["vpcID"] == provider.vpc_id
    provider.teardown()


def test_teardown_removes_instances_and_every_network_resource(ec2, tmp_path):
    state = tmp_path / "state.json"
    provider = make_provider(ec2, state_file=str(state))
    ids = [provider.submit("sleep 60", 1, f"parsl.htex.block-{n}.1") for n in range(2)]
    vpc_id, igw = provider.vpc_id, provider.internet_gateway

    provider.teardown()

    assert [ec2.state(i) for i in ids] == ["terminated", "terminated"]
    assert ec2.client.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    assert ec2.client.describe_internet_gateways(
        Filters=[{"Name": "internet-gateway-id", "Values": [igw]}])["InternetGateways"] == []
    assert ec2.client.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"] == []
    assert not state.exists()


def test_teardown_from_a_state_file_alone_removes_a_previous_runs_resources(ec2, tmp_path):
    state = tmp_path / "state.json"
    first = make_provider(ec2, state_file=str(state))
    instance_id = first.submit("sleep 60", 1, "parsl.htex.block-0.1")
    vpc_id = first.vpc_id

    make_provider(ec2, state_file=str(state)).teardown()

    assert ec2.state(instance_id) == "terminated"
    assert ec2.client.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []


def test_cancel_terminates_the_instance_and_its_processes(ec2, wait):
    provider = make_provider(ec2)
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")
    wait(ec2.cloud_init.live_processes, what="the user data to start")

    assert provider.cancel([instance_id]) == [True]

    assert provider.status([instance_id])[0].state is JobState.CANCELLED
    assert ec2.state(instance_id) == "terminated"
    wait(lambda: not ec2.cloud_init.live_processes(), timeout=30,
         what="the instance's processes to stop")
    provider.teardown()


def test_cancel_with_linger_keeps_the_instance(ec2):
    provider = make_provider(ec2, linger=True)
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    assert provider.cancel([instance_id]) == [True]

    assert provider.status([instance_id])[0].state is JobState.CANCELLED
    assert ec2.state(instance_id) == "running"
    provider.teardown()


def test_linger_leaves_the_instance_running_after_its_command(ec2, tmp_path, wait):
    provider = make_provider(ec2, linger=True)
    instance_id = provider.submit(f"touch {tmp_path}/done", 1, "parsl.htex.block-0.1")

    wait((tmp_path / "done").exists, what="the command to run")
    wait(lambda: not ec2.cloud_init.live_processes(), what="the user data to finish")

    assert ec2.state(instance_id) == "running"
    provider.teardown()


def test_block_past_its_walltime_is_terminated_and_timeout(ec2, wait):
    provider = make_provider(ec2, walltime="00:00:01")
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    status = wait(lambda: (s := provider.status([instance_id])[0]).terminal and s,
                  timeout=30, what="the walltime to pass")

    assert status.state is JobState.TIMEOUT and "walltime 00:00:01" in str(status.message)
    assert ec2.state(instance_id) == "terminated"
    provider.teardown()


def test_refused_instance_fails_submission_with_aws_message(ec2):
    arn = "arn:aws:iam::123456789012:instance-profile/absent"
    provider = make_provider(ec2, iam_instance_profile_arn=arn)

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert "run_instances failed: NoSuchEntity" in str(info.value)
    assert f"Instance profile {arn} not found" in str(info.value)
    provider.teardown()


def test_unreachable_endpoint_fails_submission_within_the_timeout(ec2, black_hole,
                                                                  monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", black_hole.url)
    provider = make_provider(ec2, api_timeout=1)

    started = time.monotonic()
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert time.monotonic() - started < 30
    assert "timeout" in str(info.value).lower()


def test_failed_status_poll_keeps_the_last_state_and_logs_the_block(ec2, black_hole, caplog,
                                                                   monkeypatch):
    """The endpoint stops answering after the instance is launched: the provider's next
    client (built on first use after ``_client`` is dropped) talks to the black hole."""
    provider = make_provider(ec2)
    instance_id = provider.submit("sleep 60", 1, "parsl.htex.block-5.1")
    assert provider.status([instance_id])[0].state is JobState.RUNNING
    working = provider._client
    provider._client = None
    provider.api_timeout = 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", black_hole.url)

    with caplog.at_level("WARNING", logger="parsl_cloud.aws"):
        status = provider.status([instance_id])[0]

    assert status.state is JobState.RUNNING
    assert "block-5" in caplog.text and instance_id in caplog.text
    provider._client = working
    provider.teardown()


def test_no_credentials_is_a_clear_error_at_construction(ec2, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(ConfigurationError) as info:
        make_provider(ec2)

    assert "no AWS credentials" in str(info.value)
    assert "key_file" in str(info.value) and "AWS_ACCESS_KEY_ID" in str(info.value)


def test_key_file_credentials_are_used(ec2, tmp_path, monkeypatch):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"AWSAccessKeyId": "AKIAFROMFILE", "AWSSecretKey": "s"}))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    provider = make_provider(ec2, key_file=str(keys))

    assert provider.session.get_credentials().access_key == "AKIAFROMFILE"


def test_profile_credentials_are_used(ec2, tmp_path, monkeypatch):
    (tmp_path / "aws-credentials").write_text(
        "[science]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    provider = make_provider(ec2, profile="science")

    assert provider.session.get_credentials().access_key == "AKIAPROFILE"


@pytest.mark.parametrize("field, value", [("key_file", "/nonexistent/keys.json"),
                                          ("profile", "no-such-profile"),
                                          ("walltime", "an hour"), ("spot_max_bid", -1),
                                          ("image_id", " "), ("max_blocks", -1)])
def test_bad_parameter_is_named_at_construction(ec2, field, value):
    with pytest.raises(BadParameter) as info:
        make_provider(ec2, **{field: value})

    assert info.value.parameter == field


def test_teardown_reports_resources_it_could_not_delete(ec2):
    provider = make_provider(ec2)
    provider.submit("sleep 60", 1, "parsl.htex.block-0.1")
    blocker = ec2.client.create_subnet(VpcId=provider.vpc_id, CidrBlock="10.0.200.0/24")
    assert blocker["Subnet"]["SubnetId"]

    with pytest.raises(AWSError) as info:
        provider.teardown()

    assert "delete_vpc" in str(info.value)
