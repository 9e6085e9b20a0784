"""Edge deployment, publisher side: signing keys, bundle export, publishing to a fleet.

The device side — verifying, running and installing bundles — is the separate
``modelport_edge`` package (distribution ``modelport-edge``), which this
package imports for the bundle format so both sides share one definition.
"""
