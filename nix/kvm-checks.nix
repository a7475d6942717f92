# Checks that boot virtual machines, so they need KVM. They live in
# legacyPackages, not `checks`, so `nix flake check` passes without KVM:
#   nix build .#kvmChecks.virtual-machine-boot
#   nix build .#kvmChecks.oci-container-run
{ self, pkgs }:
let
  system = pkgs.stdenv.hostPlatform.system;
  inherit (self.packages.${system}) oci-container virtual-machine;
  x86 = pkgs.stdenv.hostPlatform.isx86_64;
  # The line the image prints on its serial console once it is up (see
  # virtual-machine/configuration.nix); the release's smoke test waits for it too.
  bootMarker = builtins.fromJSON (builtins.readFile ./boot-marker.json);
  qemu =
    if x86 then
      "qemu-kvm"
    else
      "qemu-system-aarch64 -machine virt,gic-version=max -cpu host -enable-kvm";
  # The image's console is ttyS0 on both systems, as on EC2: on x86-64 the first
  # ISA serial port; on AArch64 a PCI 16550 UART, like Graviton's (QEMU virt's
  # own PL011 is ttyAMA0, where the image prints nothing). Both go to a file.
  serialPort = if x86 then "-serial chardev:ec2console" else "-device pci-serial,chardev=ec2console";
in
{
  # The real raw image under OVMF/AAVMF, on NVMe as on Nitro, grown to 8 GiB as an
  # EBS volume would be, with a network to come up on; it passes once the boot
  # marker shows a root file system that grew to the disk.
  virtual-machine-boot = pkgs.testers.runNixOSTest {
    name = "virtual-machine-boot";
    nodes = { };
    testScript = ''
      import os
      import re
      import shutil
      import subprocess
      import tempfile
      import time

      work = tempfile.mkdtemp()
      disk = os.path.join(work, "disk.qcow2")
      subprocess.check_call([
          "${pkgs.qemu}/bin/qemu-img", "create", "-f", "qcow2", "-F", "raw",
          "-b", "${virtual-machine}/nixos.img", disk, "8G",
      ])
      variables = os.path.join(work, "variables.fd")
      shutil.copy("${pkgs.OVMF.variables}", variables)
      os.chmod(variables, 0o644)
      console = os.path.join(work, "console.log")

      machine = create_machine(
          "${qemu} -m 1536"
          " -drive if=pflash,format=raw,unit=0,readonly=on,file=${pkgs.OVMF.firmware}"
          f" -drive if=pflash,format=raw,unit=1,file={variables}"
          f" -drive file={disk},if=none,id=root,format=qcow2"
          " -device nvme,serial=root,drive=root"
          f" -chardev file,id=ec2console,path={console}"
          " ${serialPort}"
          " -nic user,model=virtio-net-pci"
      )
      marker = re.compile(re.escape(${builtins.toJSON bootMarker}) + r" .* root file system (\d+) bytes")
      machine.start()
      try:
          deadline = time.monotonic() + 600
          while True:
              with open(console, errors="replace") as log:
                  text = log.read()
              booted = marker.search(text)
              if booted is not None:
                  break
              if time.monotonic() > deadline:
                  raise Exception("no boot marker within 600 s; the console ends:\n" + text[-3000:])
              time.sleep(2)
          machine.log(booted.group(0))
          root = int(booted.group(1))
          assert root > 7 * 1024**3, f"the root file system did not grow to the disk: {root} bytes"
      finally:
          # Machines of create_machine are not released by the driver.
          machine.release()
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
