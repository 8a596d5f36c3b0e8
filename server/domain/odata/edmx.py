"""The service document and the metadata document (EDMX 4.0) of a form's feed, as Central
writes them: the `org.opendatakit.submission` schema with the `__system` metadata type, then
one entity type per table (`__id` its key; a repeat's table also has its parent's key), one
complex type per group, a navigation property per repeat, and the entity container with
Central's capability annotations on `Submissions`. The enumeration members carry their values
(the ordinals CSDL implies when they are left out, as Central leaves them), which some clients
(python-odata) insist on.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from server.domain.odata.model import FeedModel, Node, Table, identifier

FQDN_ROOT = "org.opendatakit.user"

# Central's types for bind types; everything else is a string.
EDM_TYPES = {
    "int": "Edm.Int64",
    "integer": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}

_SYSTEM_SCHEMA = """\
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">
      <ComplexType Name="metadata">
        <Property Name="submissionDate" Type="Edm.DateTimeOffset"/>
        <Property Name="updatedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="deletedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="submitterId" Type="Edm.String"/>
        <Property Name="submitterName" Type="Edm.String"/>
        <Property Name="attachmentsPresent" Type="Edm.Int64"/>
        <Property Name="attachmentsExpected" Type="Edm.Int64"/>
        <Property Name="status" Type="org.opendatakit.submission.Status"/>
        <Property Name="reviewState" Type="org.opendatakit.submission.ReviewState"/>
        <Property Name="deviceId" Type="Edm.String"/>
        <Property Name="edits" Type="Edm.Int64"/>
        <Property Name="formVersion" Type="Edm.String"/>
      </ComplexType>
      <EnumType Name="Status">
        <Member Name="notDecrypted" Value="0"/>
        <Member Name="missingEncryptedFormData" Value="1"/>
      </EnumType>
      <EnumType Name="ReviewState">
        <Member Name="hasIssues" Value="0"/>
        <Member Name="edited" Value="1"/>
        <Member Name="rejected" Value="2"/>
        <Member Name="approved" Value="3"/>
      </EnumType>
    </Schema>
"""

_ANNOTATIONS = """\
          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>
          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>
          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">
            <Record><PropertyValue Property="Countable" Bool="true"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="NonCountableProperties">
                <Collection>
                  <String>eq</String>
                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="Filterable" Bool="true"/>
              <PropertyValue Property="RequiresFilter" Bool="false"/>
              <PropertyValue Property="NonFilterableProperties">
                <Collection>
{non_filterable}                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">
            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">
            <Record><PropertyValue Property="Expandable" Bool="false"/></Record>
          </Annotation>
"""


def namespace(xml_form_id: str) -> str:
    return f"{FQDN_ROOT}.{identifier(xml_form_id)}"


def service_document(model: FeedModel, metadata_url: str) -> dict[str, Any]:
    """The service document: `Submissions` and every repeat's table."""
    return {
        "@odata.context": metadata_url,
        "value": [{"name": t.name, "kind": "EntitySet", "url": t.name} for t in model.tables],
    }


def metadata_document(model: FeedModel) -> str:
    """The EDMX metadata document of the form's feed."""
    fqdn = namespace(model.xml_form_id)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">\n',
        "  <edmx:DataServices>\n",
        _SYSTEM_SCHEMA,
        '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
        f"Namespace={quoteattr(fqdn)}>\n",
    ]
    complex_types: list[str] = []
    for table in model.tables:
        out.append(f"      <EntityType Name={quoteattr(table.name)}>\n")
        out.append('        <Key><PropertyRef Name="__id"/></Key>\n')
        out.append('        <Property Name="__id" Type="Edm.String"/>\n')
        if table.primary:
            out.append(
                '        <Property Name="__system" Type="org.opendatakit.submission.metadata"/>\n'
            )
        if table.parent_key:
            out.append(f'        <Property Name="{table.parent_key}" Type="Edm.String"/>\n')
        out.extend(_properties(table.nodes, fqdn, model, complex_types))
        out.append("      </EntityType>\n")
    out.extend(complex_types)
    out.append(f"      <EntityContainer Name={quoteattr(model.xml_form_id)}>\n")
    for table in model.tables:
        out.append(
            f"        <EntitySet Name={quoteattr(table.name)} "
            f"EntityType={quoteattr(f'{fqdn}.{table.name}')}>\n"
        )
        if table.primary:
            names = "".join(
                f"                  <PropertyPath>{n.odata}</PropertyPath>\n" for n in table.nodes
            )
            out.append(_ANNOTATIONS.format(non_filterable=names))
        out.append("        </EntitySet>\n")
    out.append("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>")
    return "".join(out)


def _type_name(node: Node) -> str:
    """A group's or repeat's type name: its path below the root, dotted ("head", "household")."""
    root = "/" + node.path.split("/")[1]
    return ".".join(identifier(p) for p in node.path[len(root) + 1 :].split("/"))


def _properties(
    nodes: list[Node], fqdn: str, model: FeedModel, complex_types: list[str]
) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        if node.kind == "field":
            edm = EDM_TYPES.get(node.type, "Edm.String")
            lines.append(f'        <Property Name="{node.odata}" Type="{edm}"/>\n')
        elif node.kind == "group":
            type_name = _type_name(node)
            lines.append(f'        <Property Name="{node.odata}" Type="{fqdn}.{type_name}"/>\n')
            # A group's type comes before those of the groups inside it, as Central orders them.
            index = len(complex_types)
            complex_types.append("")
            body = [f'      <ComplexType Name="{type_name}">\n']
            body.extend(_properties(node.children, fqdn, model, complex_types))
            body.append("      </ComplexType>\n")
            complex_types[index] = "".join(body)
        else:
            repeat: Table | None = model.by_repeat_path(node.path)
            assert repeat is not None
            lines.append(
                f'        <NavigationProperty Name="{node.odata}" '
                f'Type="Collection({fqdn}.{repeat.name})"/>\n'
            )
    return lines
