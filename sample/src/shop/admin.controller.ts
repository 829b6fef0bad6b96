import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { Cors } from '../../../lib/index.js';

/** The named policy 'admin' (ADMIN_ORIGINS): the playground is not one of its origins. */
@Controller('admin')
@Cors('admin')
export class AdminController {
  /** How many role changes went through: the browser tests check that none did. */
  roleChanges = 0;

  @Get('users')
  users() {
    return [
      { id: 7, email: 'ada@example.com', role: 'customer' },
      { id: 8, email: 'grace@example.com', role: 'admin' },
    ];
  }

  @Put('users/:id/role')
  setRole(@Param('id') id: string, @Body() body: { role?: string }) {
    this.roleChanges++;
    return { id: Number(id), role: body?.role ?? 'customer' };
  }
}
