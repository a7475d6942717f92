# Checks that boot virtual machines, so they need KVM (kept out of `nix flake check`):
#   nix build .#kvmChecks.<system>.virtual-machine-boot
#   nix build .#kvmChecks.<system>.oci-container-run
{ self, pkgs }:
let
  system = pkgs.stdenv.hostPlatform.system;
  inherit (self.packages.${system}) oci-container virtual-machine;
  x86 = pkgs.stdenv.hostPlatform.isx86_64;
  # QEMU's machine for this system; on AArch64 its UART is a PL011 (ttyAMA0), so
  # the image's console=ttyS0 is silent there and the test stops at the kernel's EFI stub.
  qemu = if x86 then "qemu-kvm" else "qemu-system-aarch64 -machine virt,gic-version=max -cpu host -enable-kvm";
  bootedText = if x86 then "login:" else "EFI stub: Booting Linux Kernel";
in
{
  # The real raw image under OVMF/AAVMF, grown to 8 GiB as an EBS volume would be.
  virtual-machine-boot = pkgs.testers.runNixOSTest {
    name = "virtual-machine-boot";
    nodes = { };
    testScript = ''
      import os
      import shutil
      import subprocess
      import tempfile

      work = tempfile.mkdtemp()
      disk = os.path.join(work, "disk.qcow2")
      subprocess.check_call([
          "${pkgs.qemu}/bin/qemu-img", "create", "-f", "qcow2", "-F", "raw",
          "-b", "${virtual-machine}/nixos.img", disk, "8G",
      ])
      variables = os.path.join(work, "variables.fd")
      shutil.copy("${pkgs.OVMF.variables}", variables)
      os.chmod(variables, 0o644)

      machine = create_machine(
          "${qemu} -m 1536"
          " -drive if=pflash,format=raw,unit=0,readonly=on,file=${pkgs.OVMF.firmware}"
          f" -drive if=pflash,format=raw,unit=1,file={variables}"
          f" -drive file={disk},if=virtio -nic none"
      )
      machine.start()
      machine.wait_for_console_text("${bootedText}")
    '';
  };

  # The container under podman: nix works, and builds a derivation offline.
  oci-container-run = pkgs.testers.runNixOSTest {
    name = "oci-container-run";
    nodes.machine = {
      virtualisation.podman.enable = true;
      virtualisation.diskSize = 4096;
      virtualisation.memorySize = 2048;
    };
    testScript = ''
      machine.succeed("podman load --input ${oci-container}/nix.tar.gz")
      image = "nix:${oci-container.imageTag}"
      machine.succeed(f"podman run --rm {image} nix --version")
      machine.succeed(f"podman run --rm {image} sh -c 'test \"$(id -un)\" = root && test -w /tmp && test -s /etc/ssl/certs/ca-certificates.crt'")
      machine.succeed(
          f"podman run --rm --network none {image} nix-build --no-out-link --expr "
          + "'derivation { name = \"offline\"; system = builtins.currentSystem; "
          + "builder = \"/bin/sh\"; args = [ \"-c\" \"echo ok > $out\" ]; }'"
      )
    '';
  };
}
