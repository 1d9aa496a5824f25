"""Data Factory: batch sources (databases, HTTP exports, partner SFTP drops) copied on a schedule into the lake's
raw zone, by the factory's system-assigned identity, with source credentials only as Key Vault references.

Per stack: the factory (system identity; public network access closed in a private stack, where it gets a private
endpoint of group `dataFactory` in the spoke), a linked service to the lake (AzureBlobFS, no credential: the factory's
identity, which holds Storage Blob Data Contributor on the `raw` container only) and one to the stack's Key Vault
(Key Vault Secrets User), and per configured source a linked service, a source and a sink dataset, a copy pipeline
and a schedule trigger. Each run writes a new dated folder of the raw zone, in a file named by the run id, so a run
never overwrites what an earlier one wrote (the raw zone is write-once outside dev).

In a private stack the copies run on an Azure integration runtime inside the factory's managed virtual network,
which reaches the lake (dfs) and the vault through managed private endpoints. Azure creates those in Pending state:
the owner of the target approves each connection (README, "Data layer"), until then copies fail and the failed-run
alert fires. Triggers are created stopped; starting one is a Data Factory action, not a resource property (README).

Sources: learn.microsoft.com/azure/data-factory/ managed-virtual-network-private-endpoint, data-factory-private-link,
store-credentials-in-key-vault, connector-azure-data-lake-storage (managed identity), how-to-create-schedule-trigger,
data-factory-service-identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import datafactory as adf

from components.arm_settings import ADF_MANAGED_VNET_KIND, ArmChild
from components.base import PlatformComponent
from components.context import PlatformContext, enabled

MANAGED_VNET = "default"  # the one managed virtual network a factory has (its name is fixed by the service)
MANAGED_IR = "ir_managed_vnet"
LAKE_LINK, VAULT_LINK = "ls_lake", "ls_key_vault"
RAW_CONTAINER = "raw"
RUN_DATE = "runDate"  # the pipelines' parameter: the trigger's scheduled time
DATE_FORMATS = {"{yyyy}": "yyyy", "{MM}": "MM", "{dd}": "dd", "{HH}": "HH"}


@dataclass(frozen=True)
class BatchSource:
    """One configured source (core/config.py BatchSourceConfig, as plain values)."""

    name: str
    """The source's name (config `ingestion.batch[].name`)."""
    kind: str
    """azureSql, http or sftp."""
    secret_name: str
    """The Key Vault secret with the source's credential."""
    folder: str
    """The raw-zone folder pattern with date tokens, e.g. batch/orders/{yyyy}/{MM}/{dd}/."""
    frequency: str
    """The schedule's unit (Minute, Hour, Day, Week, Month)."""
    interval: int
    """Units between runs."""
    start_time: str
    """The schedule's first run (ISO 8601, UTC)."""
    table: str | None
    """azureSql: the table to copy; else None."""
    url: str | None
    """http: the server's base URL; else None."""
    relative_url: str
    """http: the export's path under the URL."""
    host: str | None
    """sftp: the server; else None."""
    port: int
    """sftp: the server's port."""
    host_key_fingerprint: str | None
    """sftp: the server's host key, which Data Factory verifies."""
    remote_folder: str
    """sftp: the folder to copy from."""
    user_name: str | None
    """http and sftp: the user the secret's password belongs to."""

    @property
    def key(self) -> str:
        """The source's name as Data Factory object names take it (letters, digits, underscores)."""
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class DataFactoryArgs:
    lake_account_id: pulumi.Input[str]
    """The lake's id (the managed private endpoint's target)."""
    lake_dfs_endpoint: pulumi.Input[str]
    """The lake's dfs endpoint (the AzureBlobFS linked service)."""
    raw_container_id: pulumi.Input[str]
    """The raw zone's id: the scope of the factory's write role."""
    vault_id: pulumi.Input[str]
    """The stack's Key Vault id (its secrets role, its managed private endpoint)."""
    vault_uri: pulumi.Input[str]
    """The vault's URI (the Key Vault linked service)."""
    sources: Sequence[BatchSource]
    """The configured batch sources."""


def folder_expression(folder: str) -> str:
    """The raw-zone folder of one run as a Data Factory expression over the pipeline's run date."""
    parts, rest = [], folder
    while rest:
        token = next((t for t in DATE_FORMATS if rest.startswith(t)), None)
        if token:
            parts.append(f"formatDateTime(pipeline().parameters.{RUN_DATE}, '{DATE_FORMATS[token]}')")
            rest = rest[len(token):]
            continue
        cut = min([i for i in (rest.find(t) for t in DATE_FORMATS) if i >= 0], default=len(rest))
        parts.append("'" + rest[:cut].replace("'", "''") + "'")
        rest = rest[cut:]
    return "@concat(" + ", ".join(parts) + ")" if len(parts) > 1 else "@" + parts[0]


def _expression(value: str) -> dict[str, str]:
    return {"type": "Expression", "value": value}


def _link(name: str) -> adf.LinkedServiceReferenceArgs:
    return adf.LinkedServiceReferenceArgs(reference_name=name, type="LinkedServiceReference")


def _dataset(name: str, **parameters) -> adf.DatasetReferenceArgs:
    return adf.DatasetReferenceArgs(reference_name=name, type="DatasetReference", parameters=parameters or None)


def _secret(secret_name: str) -> adf.AzureKeyVaultSecretReferenceArgs:
    """A credential as a reference to the stack's vault: the factory reads it at run time with its identity."""
    return adf.AzureKeyVaultSecretReferenceArgs(type="AzureKeyVaultSecret", store=_link(VAULT_LINK), secret_name=secret_name)


class DataFactory(PlatformComponent):
    TYPE = "mlops:ingestion:DataFactory"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "pipeline_names")

    def __init__(self, name: str, ctx: PlatformContext, args: DataFactoryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        # Not stateful: every object in it is declared here, and run history lives in Log Analytics (diagnostics);
        # recreating it loses nothing, so it is neither protected nor locked.
        factory = adf.Factory(
            f"{name}-adf",
            factory_name=ctx.naming.name("adf"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            identity=adf.FactoryIdentityArgs(type="SystemAssigned"),
            public_network_access=enabled(not ctx.private),
            tags=ctx.tags,
            opts=self.child(),
        )
        principal_id = factory.identity.apply(lambda identity: identity.principal_id if identity else None)
        common = {"factory_name": factory.name, "resource_group_name": ctx.resource_group_name}
        # Data roles first: a copy authenticates as the factory's identity (no key, no SAS) on `raw` only.
        grants = [
            self.grant("write-raw", principal_id, "Storage Blob Data Contributor", args.raw_container_id),
            self.grant("read-secrets", principal_id, "Key Vault Secrets User", args.vault_id),
        ]
        runtime = self._managed_network(name, factory, args, common) if ctx.private else None
        connect_via = adf.IntegrationRuntimeReferenceArgs(reference_name=MANAGED_IR, type="IntegrationRuntimeReference") if runtime else None
        after = [*grants, *([runtime] if runtime else [])]
        links = [
            adf.LinkedService(
                f"{name}-lake",
                linked_service_name=LAKE_LINK,
                properties=adf.AzureBlobFSLinkedServiceArgs(
                    type="AzureBlobFS", url=args.lake_dfs_endpoint, connect_via=connect_via,
                    description="The data lake, as the factory's system-assigned identity",
                ),
                **common,
                opts=self.child(depends_on=after),
            ),
            adf.LinkedService(
                f"{name}-vault",
                linked_service_name=VAULT_LINK,
                properties=adf.AzureKeyVaultLinkedServiceArgs(
                    type="AzureKeyVault", base_url=args.vault_uri, description="Source credentials, read by the factory's identity",
                ),
                **common,
                opts=self.child(depends_on=after),
            ),
        ]
        self.pipeline_names: list[str] = []
        """One copy pipeline per source."""
        for source in args.sources:
            self.pipeline_names.append(self._ingestion(name, source, common, connect_via, links))
        self.diagnostics(factory.id)
        self.private_endpoints(factory.id, ["dataFactory"])
        self.resource_id: pulumi.Output[str] = factory.id
        """The factory's id."""
        self.resource_name: pulumi.Output[str] = factory.name
        """The factory's name."""
        self.principal_id: pulumi.Output[str] = principal_id
        """The factory's system-assigned identity (what copies run as)."""
        self._register()

    def _managed_network(self, name: str, factory: adf.Factory, args: DataFactoryArgs, common: dict) -> adf.IntegrationRuntime:
        """The managed virtual network, its Azure integration runtime and managed private endpoints to the lake (dfs,
        the AzureBlobFS endpoint) and the vault. Each endpoint waits for approval on its target (module docstring)."""
        vnet = ArmChild(
            f"{name}-managed-vnet",
            ADF_MANAGED_VNET_KIND,
            pulumi.Output.concat(factory.id, f"/managedVirtualNetworks/{MANAGED_VNET}"),
            {"properties": {}},
            opts=self.child(depends_on=[factory]),
        )
        for label, target, group in (("lake-dfs", args.lake_account_id, "dfs"), ("vault", args.vault_id, "vault")):
            adf.ManagedPrivateEndpoint(
                f"{name}-mpe-{label}",
                managed_private_endpoint_name=label,
                managed_virtual_network_name=MANAGED_VNET,
                properties=adf.ManagedPrivateEndpointArgs(private_link_resource_id=target, group_id=group),
                **common,
                opts=self.child(depends_on=[vnet]),
            )
        return adf.IntegrationRuntime(
            f"{name}-ir",
            integration_runtime_name=MANAGED_IR,
            properties=adf.ManagedIntegrationRuntimeArgs(
                type="Managed",
                description="Azure integration runtime in the factory's managed virtual network",
                managed_virtual_network=adf.ManagedVirtualNetworkReferenceArgs(reference_name=MANAGED_VNET, type="ManagedVirtualNetworkReference"),
                compute_properties=adf.IntegrationRuntimeComputePropertiesArgs(location="AutoResolve"),
            ),
            **common,
            opts=self.child(depends_on=[vnet]),
        )

    def _ingestion(self, name: str, source: BatchSource, common: dict, connect_via, links: list) -> str:
        """One source: its linked service, source and sink datasets, the copy pipeline and its schedule trigger."""
        key, label = source.key, f"{name}-{source.name}"
        link = adf.LinkedService(f"{label}-link", linked_service_name=f"ls_src_{key}",
                                 properties=self._source_link(source, connect_via), **common, opts=self.child(depends_on=links))
        source_set, copy_source = self._source_dataset(source)
        src = adf.Dataset(f"{label}-source", dataset_name=f"ds_src_{key}", properties=source_set, **common, opts=self.child(depends_on=[link]))
        location = adf.AzureBlobFSLocationArgs(type="AzureBlobFSLocation", file_system=RAW_CONTAINER,
                                               folder_path=_expression("@dataset().folder"), file_name=_expression("@dataset().file"))
        parameters = {"folder": adf.ParameterSpecificationArgs(type="String"), "file": adf.ParameterSpecificationArgs(type="String")}
        tabular = source.kind == "azureSql"
        sink_set = (adf.ParquetDatasetArgs(type="Parquet", linked_service_name=_link(LAKE_LINK), location=location, parameters=parameters)
                    if tabular else
                    adf.BinaryDatasetArgs(type="Binary", linked_service_name=_link(LAKE_LINK), location=location, parameters=parameters))
        sink = adf.Dataset(f"{label}-raw", dataset_name=f"ds_raw_{key}", properties=sink_set, **common, opts=self.child(depends_on=links))
        write = adf.AzureBlobFSWriteSettingsArgs(type="AzureBlobFSWriteSettings")
        suffix = ".parquet" if tabular else ""
        pipeline_name = f"pl_ingest_{key}"
        pipeline = adf.Pipeline(
            f"{label}-pipeline",
            pipeline_name=pipeline_name,
            description=f"Copy {source.name} ({source.kind}) into raw/{source.folder}",
            parameters={RUN_DATE: adf.ParameterSpecificationArgs(type="String")},
            activities=[
                adf.CopyActivityArgs(
                    type="Copy",
                    name="copy_to_raw",
                    inputs=[_dataset(f"ds_src_{key}")],
                    # A new file per run (its run id) in the run date's folder: never an overwrite.
                    outputs=[_dataset(f"ds_raw_{key}", folder=_expression(folder_expression(source.folder)),
                                      file=_expression(f"@concat(pipeline().RunId, '{suffix}')"))],
                    source=copy_source,
                    sink=(adf.ParquetSinkArgs(type="ParquetSink", store_settings=write) if tabular
                          else adf.BinarySinkArgs(type="BinarySink", store_settings=write)),
                )
            ],
            **common,
            opts=self.child(depends_on=[src, sink]),
        )
        adf.Trigger(
            f"{label}-trigger",
            trigger_name=f"tr_ingest_{key}",
            properties=adf.ScheduleTriggerArgs(
                type="ScheduleTrigger",
                description=f"Ingest {source.name} every {source.interval} {source.frequency.lower()}(s)",
                recurrence=adf.ScheduleTriggerRecurrenceArgs(
                    frequency=source.frequency, interval=source.interval, start_time=source.start_time, time_zone="UTC"
                ),
                pipelines=[adf.TriggerPipelineReferenceArgs(
                    pipeline_reference=adf.PipelineReferenceArgs(reference_name=pipeline_name, type="PipelineReference"),
                    parameters={RUN_DATE: "@trigger().scheduledTime"},
                )],
            ),
            **common,
            opts=self.child(depends_on=[pipeline]),
        )
        return pipeline_name

    @staticmethod
    def _source_link(source: BatchSource, connect_via):
        if source.kind == "azureSql":
            return adf.AzureSqlDatabaseLinkedServiceArgs(type="AzureSqlDatabase", connection_string=_secret(source.secret_name), connect_via=connect_via)
        if source.kind == "http":
            return adf.HttpLinkedServiceArgs(type="HttpServer", url=source.url, authentication_type="Basic", user_name=source.user_name,
                                             password=_secret(source.secret_name), enable_server_certificate_validation=True,
                                             connect_via=connect_via)
        return adf.SftpServerLinkedServiceArgs(type="Sftp", host=source.host, port=source.port, authentication_type="Basic",
                                               user_name=source.user_name, password=_secret(source.secret_name),
                                               skip_host_key_validation=False, host_key_fingerprint=source.host_key_fingerprint,
                                               connect_via=connect_via)

    @staticmethod
    def _source_dataset(source: BatchSource):
        """The source dataset's properties and the copy activity's source settings."""
        link = _link(f"ls_src_{source.key}")
        if source.kind == "azureSql":
            return adf.AzureSqlTableDatasetArgs(type="AzureSqlTable", linked_service_name=link, table=source.table), \
                adf.AzureSqlSourceArgs(type="AzureSqlSource")
        if source.kind == "http":
            location = adf.HttpServerLocationArgs(type="HttpServerLocation", relative_url=source.relative_url)
            read = adf.HttpReadSettingsArgs(type="HttpReadSettings", request_method="GET")
        else:
            location = adf.SftpLocationArgs(type="SftpLocation", folder_path=source.remote_folder or None)
            read = adf.SftpReadSettingsArgs(type="SftpReadSettings", recursive=False)
        return adf.BinaryDatasetArgs(type="Binary", linked_service_name=link, location=location), \
            adf.BinarySourceArgs(type="BinarySource", store_settings=read)
