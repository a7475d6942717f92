# NixOS for Amazon EC2 (Nitro on x86-64, Graviton on AArch64): what runs on the
# instance. How it becomes a disk image is ./image.nix, kept apart so either can
# change alone.
{
  lib,
  modulesPath,
  ...
}:
let
  # Amazon Time Sync Service, over IPv4 and IPv6 (Nitro).
  amazonTimeServers = [
    "169.254.169.123"
    "fd00:ec2::123"
  ];
in
{
  imports = [
    # The EC2 runtime: ext4 root labelled nixos that grows to the volume
    # (boot.growPartition, autoResize), NVMe in the initrd, the ENA driver,
    # console=ttyS0, serial-getty@ttyS0, the SSM agent, OpenSSH, amazon-ec2-utils
    # udev rules, and fetch-ec2-metadata, which installs the launch key pair.
    "${modulesPath}/virtualisation/amazon-image.nix"
    # No documentation, default packages or command-not-found.
    "${modulesPath}/profiles/minimal.nix"
  ];

  system.stateVersion = "26.05";

  # UEFI on both systems (EC2's default is legacy BIOS on x86-64): the ESP is
  # mounted at /boot and the image gets a GPT with an ESP.
  ec2.efi = true;
  boot.loader.systemd-boot = {
    enable = true;
    configurationLimit = 3;
    editor = false;
  };
  # An AMI boots without EFI variables: bootctl installs the removable-media path.
  boot.loader.efi.canTouchEfiVariables = false;

  # Keys only: the launch key pair (from instance metadata) or SSM Session Manager.
  services.openssh.settings = {
    PasswordAuthentication = false;
    KbdInteractiveAuthentication = false;
    PermitRootLogin = "prohibit-password";
  };

  networking.timeServers = lib.mkForce amazonTimeServers;
  services.timesyncd.servers = amazonTimeServers;

  # NitroTPM (needs BootMode uefi and TpmSupport v2.0 at registration).
  security.tpm2.enable = true;

  # Flakes pin their own nixpkgs: no channel in the image (hundreds of MiB).
  nix.channel.enable = false;
  nix.settings.experimental-features = [
    "nix-command"
    "flakes"
  ];
}
